import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { freePort } from './processes';

const run = promisify(execFile);

/** `initdb` and `pg_ctl`, on PATH or in Debian's /usr/lib/postgresql/<version>/bin. */
const findPrograms = (): { initdb: string; pgCtl: string } | undefined => {
  const versions = existsSync('/usr/lib/postgresql')
    ? readdirSync('/usr/lib/postgresql')
        .sort((a, b) => Number(b) - Number(a))
        .map((version) => join('/usr/lib/postgresql', version, 'bin'))
    : [];
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), ...versions]) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) {
      return { initdb: join(dir, 'initdb'), pgCtl: join(dir, 'pg_ctl') };
    }
  }
  return undefined;
};

const programs = findPrograms();
const MISSING = 'PostgreSQL (initdb, pg_ctl) is not installed: install it (apt-get install postgresql) to run these tests';

/**
 * `describe` when PostgreSQL is installed. Without it the block is skipped
 * with a loud warning, except in CI (CI=true), where a missing PostgreSQL
 * fails the run.
 */
export const describeWithPostgres = (name: string, body: () => void): void => {
  if (programs) return describe(name, body);
  if (process.env.CI === 'true') {
    describe(name, () => {
      it('needs PostgreSQL', () => {
        throw new Error(MISSING);
      });
    });
    return;
  }
  process.stderr.write(`\n\n*** SKIPPING "${name}": ${MISSING} ***\n\n`);
  describe.skip(name, body);
};

export interface PostgresCluster {
  readonly port: number;
  /** A connection URL for `database` (default: postgres). */
  url(database?: string): string;
  /** Creates a fresh database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** `pg_ctl restart -m immediate`: a crash and a restart, as far as clients can tell. */
  restart(): Promise<void>;
  /** `pg_ctl stop -m immediate`: the database is gone until `start`. */
  kill(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its folder. */
  stop(): Promise<void>;
}

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL program: as the postgres user when this is root, since initdb refuses root. */
const runProgram = async (program: string, args: string[]) => {
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', program, ...args]] : [program, args];
  try {
    await run(file, argv, { timeout: 60_000 });
  } catch (error) {
    const { stderr = '', stdout = '' } = error as { stderr?: string; stdout?: string };
    throw new Error(`${program} ${args.join(' ')} failed:\n${stdout}${stderr}`, { cause: error });
  }
};

const userIds = async (name: string) => {
  const ids = (flag: string) => run('id', [flag, name]).then(({ stdout }) => Number(stdout.trim()));
  return { uid: await ids('-u'), gid: await ids('-g') };
};

/**
 * Starts a throwaway PostgreSQL cluster on a free loopback port (trust auth,
 * user `app`). Tests run it with fsync off; `durable` keeps PostgreSQL's
 * defaults (fsync, synchronous_commit on), for benchmarks of durable writes.
 */
export const startPostgres = async ({ durable = false }: { durable?: boolean } = {}): Promise<PostgresCluster> => {
  if (!programs) throw new Error(MISSING);
  const { initdb, pgCtl } = programs;
  const dir = await mkdtemp(join(tmpdir(), 'pg-test-'));
  if (asRoot) {
    const { uid, gid } = await userIds('postgres');
    await chown(dir, uid, gid);
  }
  const data = join(dir, 'db');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  // fsync off: a killed server still keeps what the OS has; only a machine crash would lose it.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1${durable ? '' : ' -c fsync=off -c full_page_writes=off'}`;
  const ctl = async (...args: string[]) => {
    try {
      await runProgram(pgCtl, ['-D', data, '-l', logFile, '-o', options, '-w', ...args]);
    } catch (error) {
      const log = await readFile(logFile, 'utf8').catch(() => '');
      throw new Error(`${(error as Error).message}\nserver log:\n${log.slice(-2000)}`, { cause: error });
    }
  };
  await runProgram(initdb, ['-D', data, '-A', 'trust', '-U', 'app', '-N', '-E', 'UTF8', '--locale=C']);
  await ctl('start');
  const url = (database = 'postgres') => `postgres://app@127.0.0.1:${port}/${database}`;
  return {
    port,
    url,
    async createDatabase(name) {
      const client = new Client({ connectionString: url() });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
      } finally {
        await client.end();
      }
      return url(name);
    },
    restart: () => ctl('restart', '-m', 'immediate'),
    kill: () => ctl('stop', '-m', 'immediate'),
    start: () => ctl('start'),
    async stop() {
      await ctl('stop', '-m', 'fast').catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    },
  };
};
