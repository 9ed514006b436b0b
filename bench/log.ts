/**
 * The durable log: sign-ups per second with 64 concurrent clients, group
 * commit against one fsync per record, and the time to start with a million
 * users from a snapshot plus a tail of records. Run: npm run bench
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Draft } from 'immer';
import pino from 'pino';
import { openStore } from '../lib/store';
import { createFileBackend, writeSnapshot } from '../lib/log/file';
import { addUser } from '../subgraphs/users/src/domain/recipes';
import { emptyUsersState, signUp, usersSnapshotCodec, type UsersEvent, type UsersState } from '../subgraphs/users/src/domain';

const CLIENTS = 64;
const STARTUP_USERS = 1_000_000;
const TAIL_RECORDS = 10_240;
const TARGET = { groupCommitGain: 10, startupMs: 5_000 };
const logger = pino({ level: 'silent' });

const openUsers = (dir: string, syncEachRecord = false) =>
  openStore<UsersState, UsersEvent>({
    backend: createFileBackend({ dataDir: dirname(dir), syncEachRecord }),
    stream: basename(dir),
    initial: emptyUsersState(),
    codec: usersSnapshotCodec,
    logger,
  });

let counter = 0;
const aSignUp = () => {
  const n = ++counter;
  return signUp({ name: `User ${n}`, email: `user${n}@example.com` }, { id: randomUUID(), createdAt: new Date().toISOString() });
};

/** Durable sign-ups per second: `CLIENTS` loops, each waiting for its sign-up before the next. */
const throughput = async (syncEachRecord: boolean, perClient: number): Promise<number> => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-log-'));
  const store = await openUsers(dir, syncEachRecord);
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = 0; i < perClient; i++) await store.execute(aSignUp());
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  await rm(dir, { recursive: true, force: true });
  return (CLIENTS * perClient) / seconds;
};

/** A log folder holding a snapshot of `STARTUP_USERS` users and `TAIL_RECORDS` sign-ups after it. */
const prepareStartup = async (): Promise<string> => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-start-'));
  const state = emptyUsersState();
  for (let seq = 1; seq <= STARTUP_USERS; seq++) {
    addUser(state as Draft<UsersState>, { id: randomUUID(), name: `User ${seq}`, email: `seed${seq}@example.com`, createdAt: new Date().toISOString(), seq });
  }
  await writeSnapshot(dir, STARTUP_USERS, usersSnapshotCodec.encode(state));
  const store = await openUsers(dir);
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      for (let i = 0; i < TAIL_RECORDS / CLIENTS; i++) await store.execute(aSignUp());
    }),
  );
  await store.close();
  return dir;
};

/** Median time of one small append + fdatasync on the temp dir's file system. */
const fsyncLatencyMs = async (): Promise<number> => {
  const dir = await mkdtemp(join(tmpdir(), 'bench-fsync-'));
  const handle = await open(join(dir, 'probe'), 'a');
  const times: number[] = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    await handle.write('x'.repeat(200));
    await handle.datasync();
    times.push(performance.now() - started);
  }
  await handle.close();
  await rm(dir, { recursive: true, force: true });
  return times.sort((a, b) => a - b)[100]!;
};

const main = async () => {
  console.log(`Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}, temp dir ${tmpdir()}`);
  const grouped = await throughput(false, 100);
  const single = await throughput(true, 10);
  console.log(`\ndurable sign-ups per second, ${CLIENTS} concurrent clients (each waits for its fsync):`);
  console.log(`  group commit            ${grouped.toFixed(0).padStart(8)}`);
  console.log(`  one fsync per record    ${single.toFixed(0).padStart(8)}`);
  console.log(`  gain                    ${(grouped / single).toFixed(1).padStart(7)}x  (target >= ${TARGET.groupCommitGain}x)`);
  const fsyncMs = await fsyncLatencyMs();
  console.log(
    `  why: one fsync here takes ${fsyncMs.toFixed(2)} ms (median of 200), which caps one-per-record at ~${(1000 / fsyncMs).toFixed(0)}/s;\n` +
      `  group commit is CPU-bound at ~${(1e6 / grouped).toFixed(0)} µs per sign-up (validation, Immer, encoding), so the gain is about\n` +
      '  fsync time / CPU time per sign-up: larger on disks with slower fsync.',
  );

  const dir = await prepareStartup();
  global.gc?.();
  const started = performance.now();
  const store = await openUsers(dir);
  const startupMs = performance.now() - started;
  console.log(`\nstart with ${STARTUP_USERS.toLocaleString('en')} users from snapshot + ${TAIL_RECORDS.toLocaleString('en')} records: ${startupMs.toFixed(0)} ms (target < ${TARGET.startupMs} ms)`);
  console.log(`  users after start: ${store.state.count.toLocaleString('en')}`);
  await store.close();
  await rm(dir, { recursive: true, force: true });

  const pass = grouped / single >= TARGET.groupCommitGain && startupMs < TARGET.startupMs;
  console.log(`\nverdict: ${pass ? 'PASS' : 'FAIL'}`);
};

void main();
