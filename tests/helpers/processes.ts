import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { readSubgraphList, type SubgraphList } from '../../lib/subgraph-list';
import { ROOT } from './paths';


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

/** Whether nothing listens on `port` of loopback any more. */
export const isPortFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });

export interface PortsEnv extends Readonly<Record<string, string>> {
  readonly GATEWAY_PORT: string;
  readonly DEV_ISSUER_PORT: string;
}

/** Free ports for the gateway and each subgraph of the list (its `<NAME>_PORT`), as a user who cannot have the defaults would set them. */
export const portsEnv = async (list: SubgraphList = readSubgraphList()): Promise<PortsEnv> => {
  const subgraphs: Record<string, string> = {};
  for (const { portKey } of list.subgraphs) subgraphs[portKey] = String(await freePort());
  return {
    GATEWAY_PORT: String(await freePort()),
    ...subgraphs,
    // `npm start`'s development token issuer: wherever the kernel puts it (the token helpers read where).
    DEV_ISSUER_PORT: '0',
  };
};

/** What a gateway in a process of its own must be told: where each subgraph of the list listens (its `<NAME>_URL`). */
export const subgraphUrlsEnv = (ports: PortsEnv, list: SubgraphList = readSubgraphList()): Record<string, string> =>
  Object.fromEntries(list.subgraphs.map(({ urlKey, portKey }) => [urlKey, `http://127.0.0.1:${ports[portKey]}/graphql`]));

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** Everything written to stdout and stderr so far. */
  output(): string;
  /** Resolves once the output matches `pattern`. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal that ended it) once the process has exited by itself. */
  exited(): Promise<number | NodeJS.Signals>;
  /** Sends `signal` to `child` alone and resolves with the exit code (or the signal that ended it). */
  stop(signal?: NodeJS.Signals): Promise<number | NodeJS.Signals>;
  /** SIGKILL to `child` and every process it started (its process group): what a test leaves behind. */
  kill(): Promise<number | NodeJS.Signals>;
}

export interface SpawnOptions {
  /** `ulimit -f`: writes past this many KiB fail with EFBIG, a disk that is full for the service. */
  readonly fileSizeLimitKb?: number;
  /**
   * The service runs under a parent that never reaps it (it prints "service pid N",
   * then sleeps): killed, the service stays a zombie until `child` (the parent) is killed.
   */
  readonly unreapedChild?: boolean;
}

/**
 * Runs a TypeScript entry point of this project as its own process, as the npm scripts do:
 * `entry` is its path and its arguments, as `system/start-subgraph.ts users`.
 */
export const spawnService = (
  entry: string,
  env: Record<string, string>,
  { fileSizeLimitKb, unreapedChild }: SpawnOptions = {},
): ServiceProcess => {
  const [file = '', ...args] = entry.split(' ');
  const command = [process.execPath, '--import', 'tsx', join(ROOT, file), ...args];
  const [program, ...programArgs] = fileSizeLimitKb
    ? ['bash', '-c', `ulimit -f ${fileSizeLimitKb} && exec "$@"`, 'bash', ...command]
    : unreapedChild
      ? ['bash', '-c', '"$@" & echo "service pid $!"; exec sleep 300', 'bash', ...command]
      : command;
  return watchProcess(entry, spawn(program!, programArgs, { cwd: ROOT, env: serviceEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true }));
};

/**
 * Runs `npm run <script>` as a user does (`script` may carry arguments: `start:subgraph -- users`), in
 * this project or a copy of it at `cwd`: `child` is the npm process itself.
 */
export const spawnScript = (script: string, env: Record<string, string>, cwd: string = ROOT): ServiceProcess =>
  watchProcess(`npm run ${script}`, spawn('npm', ['run', '--silent', ...script.split(' ')], { cwd, env: serviceEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true }));

const serviceEnv = (env: Record<string, string>) => ({ ...process.env, NODE_ENV: 'development', LOG_LEVEL: 'info', ...env });

const watchProcess = (entry: string, child: ChildProcess): ServiceProcess => {
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
    async kill() {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // the group is gone already
      }
      return exited;
    },
  };
};
