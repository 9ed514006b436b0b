/**
 * Storage over time, on PostgreSQL: a users replica's memory (RSS) and snapshot size at 1e5 and 1e6
 * users, and the time it takes to start from the newest snapshot; the log's size after 1e5 sign-ups
 * with pruning on against off. Needs PostgreSQL's initdb and pg_ctl, as the tests do.
 * Run: npm run bench:storage
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { promisify } from 'node:util';
import type { Draft } from 'immer';
import { Client } from 'pg';
import pino from 'pino';
import { openPostgresBackend, type LogBackend } from '../lib/log';
import { openStore } from '../lib/store';
import { emptyUsersState, signUp, usersSnapshotCodec, type UsersEvent, type UsersState } from '../subgraphs/users/src/domain';
import { addUser } from '../subgraphs/users/src/domain/recipes';
import { startPostgres } from '../tests/helpers/postgres';

const REPLICA_SIZES = [1e5, 1e6] as const;
const SIGN_UPS = 2e5;
/** The log's size is read after every this many sign-ups. */
const CHECKPOINT = 25_000;
const CLIENTS = 64;
const logger = pino({ level: 'silent' });

const openUsers = (backend: LogBackend) =>
  openStore<UsersState, UsersEvent>({ backend, stream: 'users', initial: emptyUsersState(), codec: usersSnapshotCodec, logger });

/** In a child process: opens the users store from `url` as a replica starting does, and reports what that took. */
const replica = async (url: string) => {
  const started = performance.now();
  const backend = await openPostgresBackend({ url, logger });
  const store = await openUsers(backend);
  const startMs = performance.now() - started;
  global.gc?.();
  const { rss, heapUsed } = process.memoryUsage();
  console.log(JSON.stringify({ users: store.state.count, startMs, rss, heapUsed }));
  await store.close();
  await backend.close();
};

const query = async <T extends object>(url: string, text: string): Promise<T> => {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text)).rows[0] as T;
  } finally {
    await client.end();
  }
};

/** A snapshot of `n` users written as a replica writes it; every user keeps a 32-character idempotency key (all within the retention). */
const seedSnapshot = async (url: string, n: number): Promise<number> => {
  const state = emptyUsersState();
  const createdAt = new Date().toISOString();
  for (let seq = 1; seq <= n; seq++) {
    const idempotencyKey = randomBytes(16).toString('hex');
    addUser(state as Draft<UsersState>, { id: randomUUID(), name: `User ${seq}`, email: `seed${seq}@example.com`, createdAt, seq, idempotencyKey });
  }
  const backend = await openPostgresBackend({ url, logger });
  const stream = await backend.openStream('users', { logger, restore: () => undefined, replay: () => undefined });
  await stream.snapshot(n, usersSnapshotCodec.encode(state));
  await stream.close();
  await backend.close();
  return (await query<{ bytes: string }>(url, "SELECT sum(octet_length(body)) AS bytes FROM log_snapshots WHERE stream = 'users'")).bytes as unknown as number;
};

const startReplica = async (url: string) => {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--import', 'tsx', __filename, '--replica', url], {
    env: { ...process.env, NODE_ENV: 'production' },
    maxBuffer: 1 << 20,
    timeout: 300_000,
  });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as { users: number; startMs: number; rss: number; heapUsed: number };
};

/** The users log's table: its rows, and its size on disk with indexes and TOAST. */
const logSize = (url: string) =>
  query<{ records: number; bytes: number }>(
    url,
    "SELECT (SELECT count(*)::int FROM log_records) AS records, pg_total_relation_size('log_records')::bigint::float8 AS bytes",
  );

/**
 * `SIGN_UPS` sign-ups from `CLIENTS` concurrent clients, a snapshot every 10,000 records; the log's
 * size after each `CHECKPOINT` sign-ups (autovacuum as configured by default), then after a VACUUM.
 */
const signUpsAndLogSize = async (url: string, prune: boolean) => {
  // Off: runs that delete nothing.
  const backend = await openPostgresBackend({ url, logger, prune: prune ? { everyMs: 1_000, batch: 10_000 } : { everyMs: 3_600_000, batch: 0 } });
  const store = await openUsers(backend);
  let next = 0;
  const checkpoints: number[] = [];
  let measuring = Promise.resolve();
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < SIGN_UPS) {
        const n = ++next;
        await store.execute(signUp({ name: `User ${n}`, email: `user${n}@example.com` }, { id: randomUUID(), createdAt: new Date().toISOString() }));
        if (n % CHECKPOINT === 0) measuring = measuring.then(async () => void checkpoints.push((await logSize(url)).bytes));
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await measuring;
  await store.snapshot();
  // Let the last runs after the final snapshot finish.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  await store.close();
  await backend.close();
  await query(url, 'VACUUM log_records');
  const size = await logSize(url);
  const snapshots = await query<{ bytes: number }>(url, "SELECT pg_total_relation_size('log_snapshots')::bigint::float8 AS bytes");
  return { ...size, checkpoints, snapshots: snapshots.bytes, perSecond: SIGN_UPS / seconds };
};

const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

const main = async () => {
  console.log(`Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}`);
  const cluster = await startPostgres();
  try {
    console.log('\na users replica started from the newest snapshot on PostgreSQL (one child process each, RSS after a full GC):');
    console.log('  users       snapshot      start      RSS    heap used');
    for (const n of REPLICA_SIZES) {
      const url = await cluster.createDatabase(`replica_${n}`);
      const snapshotBytes = Number(await seedSnapshot(url, n));
      const started = await startReplica(url);
      if (started.users !== n) throw new Error(`the replica loaded ${started.users} users, not ${n}`);
      console.log(
        `  ${n.toLocaleString('en').padStart(9)}  ${mib(snapshotBytes).padStart(10)}  ${`${started.startMs.toFixed(0)} ms`.padStart(9)}  ${mib(started.rss).padStart(9)}  ${mib(started.heapUsed).padStart(9)}`,
      );
    }

    console.log(`\nthe users log during ${SIGN_UPS.toLocaleString('en')} sign-ups (${CLIENTS} clients, a snapshot every 10,000 records, no reader declared):`);
    console.log(`  log_records on disk after every ${CHECKPOINT.toLocaleString('en')} sign-ups (autovacuum at its defaults), then after a VACUUM:`);
    for (const prune of [false, true]) {
      const url = await cluster.createDatabase(`log_${prune ? 'pruned' : 'kept'}`);
      const size = await signUpsAndLogSize(url, prune);
      console.log(
        `  pruning ${(prune ? 'on: ' : 'off:').padEnd(5)} ${size.checkpoints.map((bytes) => (bytes / 2 ** 20).toFixed(0)).join(' ')} MiB; ` +
          `at the end ${size.records.toLocaleString('en')} records, ${mib(size.bytes)} (snapshots ${mib(size.snapshots)}), ${size.perSecond.toFixed(0)} sign-ups/s`,
      );
    }
  } finally {
    await cluster.stop();
  }
};

if (process.argv[2] === '--replica') void replica(process.argv[3]!);
else void main();
