import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { ROOT } from './paths';

export interface TestIssuer {
  readonly url: string;
  /** A token signed with the issuer's current key: `claims` are set on top of its defaults (null removes one). */
  token(claims: Record<string, unknown>, options?: { header?: Record<string, unknown>; expiresIn?: number }): Promise<string>;
  /** Replaces the signing key with a new one (a new `kid`); resolves with that kid. */
  rotate(): Promise<string>;
  /** Stops answering (connections refused) until `start`. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** How many times the JWKS and the discovery document were fetched. */
  fetches(): Promise<{ jwks: number; discovery: number }>;
  close(): Promise<void>;
}

/** oauth2-mock-server, a real OpenID Connect issuer (discovery, JWKS, RS256 tokens), in a process of its own on loopback. */
export const startTestIssuer = async (): Promise<TestIssuer> => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'tests', 'helpers', 'issuer-process.ts')], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const waiting = new Map<number, (answer: unknown) => void>();
  const ready = new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the test issuer exited (${code}) before it was ready`)));
    lines.on('line', (line) => {
      const message = JSON.parse(line) as { ready?: string; id?: number; answer?: unknown };
      if (message.ready) resolve(message.ready);
      else waiting.get(message.id!)?.(message.answer);
    });
  });
  const url = await ready;
  let next = 0;
  const send = <T>(command: Record<string, unknown>) =>
    new Promise<T>((resolve) => {
      const id = ++next;
      waiting.set(id, (answer) => {
        waiting.delete(id);
        resolve(answer as T);
      });
      child.stdin!.write(`${JSON.stringify({ id, ...command })}\n`);
    });
  return {
    url,
    token: (claims, options = {}) => send<string>({ cmd: 'token', claims, ...options }),
    rotate: () => send<string>({ cmd: 'rotate' }),
    stop: () => send<void>({ cmd: 'stop' }),
    start: () => send<void>({ cmd: 'start' }),
    fetches: () => send<{ jwks: number; discovery: number }>({ cmd: 'stats' }),
    close: async () => {
      child.stdin!.end();
      child.kill();
      await new Promise((resolve) => (child.exitCode === null ? child.once('exit', resolve) : resolve(undefined)));
    },
  };
};
