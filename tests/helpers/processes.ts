import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

export const ROOT = join(__dirname, '..', '..');

/** A port that was free a moment ago: for child processes that must be told their port. */
export const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });

/** Free ports for the three services, and the URLs the gateway must then call. */
export const portsEnv = async () => {
  const [gateway, users, notifications] = [await freePort(), await freePort(), await freePort()];
  return {
    GATEWAY_PORT: String(gateway),
    USERS_PORT: String(users),
    NOTIFICATIONS_PORT: String(notifications),
    USERS_URL: `http://127.0.0.1:${users}/graphql`,
    NOTIFICATIONS_URL: `http://127.0.0.1:${notifications}/graphql`,
  };
};

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves once the output matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal that ended it) once the process has exited by itself. */
  exited(): Promise<number | NodeJS.Signals>;
  /** Sends `signal` and resolves with the exit code (or the signal that ended it). */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
}

/** Runs a TypeScript entry point of this project as its own process, as the npm scripts do. */
export const spawnService = (
  entry: string,
  env: Record<string, string>,
  { fileSizeLimitKb }: { fileSizeLimitKb?: number } = {},
): ServiceProcess => {
  const command = [process.execPath, '--import', 'tsx', join(ROOT, entry)];
  // `ulimit -f` makes writes past the limit fail with EFBIG: a disk that is full for this process.
  const [file, ...args] = fileSizeLimitKb
    ? ['bash', '-c', `ulimit -f ${fileSizeLimitKb} && exec "$@"`, 'bash', ...command]
    : command;
  const child = spawn(file!, args, {
    cwd: ROOT,
    env: { ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const exited = new Promise<number | NodeJS.Signals>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1)),
  );
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      output += chunk;
      for (const listener of listeners) listener();
    });
  }
  return {
    child,
    output: () => output,
    waitFor(pattern, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (!match) return;
          cleanup();
          resolve(match);
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${entry}: no ${pattern} within ${timeoutMs} ms; output:\n${output}`));
        }, timeoutMs);
        void exited.then((code) => {
          cleanup();
          reject(new Error(`${entry} exited (${code}) before ${pattern}; output:\n${output}`));
        });
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
    exited: () => exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
};
