import { randomUUID } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { trieGet } from '../../lib/hash-trie';
import type { LogRecord } from '../../lib/log';
import { acknowledge, createFileBackend, listSegments, listSnapshots, tailFileLog } from '../../lib/log/file';
import { openStore, type SnapshotPolicy, type Store } from '../../lib/store';
import {
  emptyUsersState,
  signUp,
  usersAfter,
  usersSnapshotCodec,
  type UsersEvent,
  type UsersState,
} from '../../subgraphs/users/src/domain';
import { deliveryById, notificationsSnapshotCodec } from '../../subgraphs/notifications/src/domain';
import { aDelivery, aNotificationsState } from '../helpers/builders';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';
import { eventually } from '../helpers/graphql';
import { ERROR, recordingLogger, silentLogger, WARN } from '../helpers/logs';

let root: string;
beforeEach(async () => {
  root = await makeTempDir('snapshots-');
});
afterEach(() => removeTempDir(root));

const NEVER: SnapshotPolicy = { records: Number.POSITIVE_INFINITY, bytes: Number.POSITIVE_INFINITY };

const openUsers = (dir: string, snapshotEvery: SnapshotPolicy = NEVER, logger = silentLogger(), readers: string[] = []) =>
  openStore<UsersState, UsersEvent>({
    backend: createFileBackend({ dataDir: dirname(dir) }),
    stream: basename(dir),
    readers,
    initial: emptyUsersState(),
    codec: usersSnapshotCodec,
    snapshotEvery,
    logger,
  });

const signUpMany = async (store: Store<UsersState, UsersEvent>, count: number, from = store.state.count) => {
  for (let i = from + 1; i <= from + count; i++) {
    const result = await store.execute(
      signUp({ name: `User ${i}`, email: `User${i}@Example.com` }, { id: randomUUID(), createdAt: new Date(i * 1000).toISOString() }),
    );
    expect(result.errors).toEqual([]);
  }
};

describe('snapshots', () => {
  it('restarts from snapshot + tail to the same state as a full replay of the same sign-ups', async () => {
    const dir = join(root, 'with-snapshots');
    const reference = join(root, 'reference');
    const withSnapshots = await openUsers(dir, { records: 25, bytes: Number.POSITIVE_INFINITY });
    const plain = await openUsers(reference);
    // Every other sign-up carries an idempotency key kept 30 s: keys expire as the sign-ups go on.
    const policy = { keyRetentionMs: 30_000 };
    const both = async (from: number, to: number) => {
      for (let i = from; i <= to; i++) {
        const made = { id: `id-${i}`, createdAt: new Date(i * 1000).toISOString() };
        const input = { name: `User ${i}`, email: `user${i}@example.com`, ...(i % 2 ? { idempotencyKey: `key-of-sign-up-${i}` } : {}) };
        await withSnapshots.execute(signUp(input, made, policy));
        await plain.execute(signUp(input, made, policy));
      }
    };
    await both(1, 120);
    await withSnapshots.snapshot();
    await both(121, 123);
    const expected = plain.state;
    await plain.close();
    await withSnapshots.close();
    expect((await listSnapshots(dir)).length).toBeGreaterThan(0);

    const restarted = await openUsers(dir);
    expect(restarted.version).toBe(123);
    expect(restarted.state).toEqual(expected);
    expect(expected.keysExpiredThrough).toBeGreaterThan(80);
    expect(trieGet(expected.idByKey, 'key-of-sign-up-123')).toBe('id-123');
    await restarted.close();
  });

  it('drops segments that two newer snapshots cover, and keeps every user', async () => {
    const dir = join(root, 'users');
    const store = await openUsers(dir);
    for (let round = 0; round < 3; round++) {
      await signUpMany(store, 10);
      await store.snapshot();
    }
    await signUpMany(store, 5);
    await store.close();

    expect((await listSnapshots(dir)).map((snapshot) => snapshot.version)).toEqual([20, 30]);
    expect((await listSegments(dir)).map((segment) => segment.first)).toEqual([21, 31]);
    const restarted = await openUsers(dir);
    expect(restarted.state.count).toBe(35);
    expect(usersAfter(restarted.state, 0, 100).users.map((user) => user.email)).toEqual(
      Array.from({ length: 35 }, (_, i) => `User${i + 1}@Example.com`),
    );
    await restarted.close();
  });

  const threeSnapshots = async (store: Store<UsersState, UsersEvent>) => {
    for (let round = 0; round < 3; round++) {
      await signUpMany(store, 10);
      await store.snapshot();
    }
    await store.close();
  };

  it('keeps segments a declared reader has not acknowledged', async () => {
    const dir = join(root, 'users');
    await acknowledge(dir, 'notifications', 15);
    await threeSnapshots(await openUsers(dir, NEVER, silentLogger(), ['notifications']));
    expect((await listSegments(dir)).map((segment) => segment.first)).toEqual([11, 21]);
  });

  it('keeps every segment for a declared reader that has never run', async () => {
    const dir = join(root, 'users');
    await threeSnapshots(await openUsers(dir, NEVER, silentLogger(), ['notifications']));
    expect((await listSegments(dir))[0]!.first).toBe(1);
  });

  it('holds nothing back for a reader that is not declared, and warns that it reads', async () => {
    const dir = join(root, 'users');
    await acknowledge(dir, 'audit', 5);
    const { logger, lines } = recordingLogger();
    await threeSnapshots(await openUsers(dir, NEVER, logger));
    expect((await listSegments(dir)).map((segment) => segment.first)).toEqual([21]);
    expect(lines).toContainEqual(expect.objectContaining({ level: WARN, undeclared: ['audit'] }));
  });

  it('falls back to the older snapshot with a warning when the newest is damaged', async () => {
    const dir = join(root, 'users');
    const store = await openUsers(dir);
    for (let round = 0; round < 2; round++) {
      await signUpMany(store, 10);
      await store.snapshot();
    }
    await signUpMany(store, 2);
    await store.close();
    const newest = (await listSnapshots(dir)).at(-1)!.file;
    const text = await readFile(newest, 'utf8');
    await writeFile(newest, text.replace('User 3', 'User 8'));

    const { logger, lines } = recordingLogger();
    const restarted = await openUsers(dir, NEVER, logger);
    expect(restarted.state.count).toBe(22);
    expect(lines).toContainEqual(expect.objectContaining({ level: WARN, file: newest, problem: 'checksum mismatch' }));
    await restarted.close();
  });

  it('writes snapshots by itself every N records', async () => {
    const dir = join(root, 'users');
    const store = await openUsers(dir, { records: 10, bytes: Number.POSITIVE_INFINITY });
    await signUpMany(store, 25);
    await store.close();
    const versions = (await listSnapshots(dir)).map((snapshot) => snapshot.version);
    expect(versions.length).toBeGreaterThanOrEqual(1);
    expect(versions.every((version) => version >= 10)).toBe(true);
    expect((await readdir(dir)).some((name) => name.endsWith('.tmp'))).toBe(false);
  });

  it('lets a reader in another process follow the log across new segments', async () => {
    const dir = join(root, 'users');
    const store = await openUsers(dir);
    const seen: number[] = [];
    let wake: () => void = () => undefined;
    const tail = tailFileLog({
      dir,
      after: 0,
      logger: silentLogger(),
      pollMs: 20,
      onRecords: async (records: LogRecord[]) => {
        seen.push(...records.map((record) => record.version));
        wake();
      },
    });
    await signUpMany(store, 5);
    await store.snapshot();
    await signUpMany(store, 5);
    await store.snapshot();
    await signUpMany(store, 5);
    while (seen.length < 15) await new Promise<void>((resolve) => (wake = resolve));
    await tail.close();
    await store.close();
    expect(seen).toEqual(Array.from({ length: 15 }, (_, i) => i + 1));
  });

  it('stops a reader at records that are gone, naming them, instead of skipping to what is left', async () => {
    const dir = join(root, 'users');
    await threeSnapshots(await openUsers(dir));
    expect((await listSegments(dir))[0]!.first).toBe(21);
    const seen: number[] = [];
    const { logger, lines } = recordingLogger();
    const tail = tailFileLog({ dir, after: 4, logger, pollMs: 20, onRecords: async (records) => void seen.push(...records.map((record) => record.version)) });
    await eventually(async () => tail.gap, (gap) => gap !== undefined);
    await new Promise((resolve) => setTimeout(resolve, 100));
    await tail.close();
    expect(tail.gap).toMatchObject({ name: 'LogGapError', after: 4, first: 21, message: 'records 5 to 20 of the users log are gone before this reader read them' });
    expect(tail.version).toBe(4);
    expect(seen).toEqual([]);
    expect(lines).toContainEqual(expect.objectContaining({ level: ERROR, after: 4, first: 21 }));
  });
});

describe('usersSnapshotCodec', () => {
  it('decodes to the state it encoded, deep-frozen', async () => {
    const store = await openUsers(join(root, 'users'));
    await signUpMany(store, 300);
    const state = store.state;
    await store.close();
    const decoded = usersSnapshotCodec.decode([...usersSnapshotCodec.encode(state)]);
    expect(decoded).toEqual(state);
    expect(Object.isFrozen(decoded.byId)).toBe(true);
  });
});

describe('the notifications snapshot, in lines of a thousand entries', () => {
  const deliveries = Array.from({ length: 2_500 }, (_, i) => aDelivery({ userId: `user-${i}`, status: i % 3 === 0 ? 'SENT' : 'QUEUED' }));
  const state = aNotificationsState(deliveries, 2_500);

  it('writes no line that holds the state, and reads back the same state, however the lines are grouped into chunks', () => {
    const chunks = [...notificationsSnapshotCodec.encode(state)];

    expect(chunks.length).toBeGreaterThan(7); // the header, then three lines for each trie of 2500
    expect(Math.max(...chunks.map((chunk) => chunk.length))).toBeLessThan(JSON.stringify(state).length / 2);
    expect(chunks.every((chunk) => chunk.endsWith('\n'))).toBe(true);
    expect(notificationsSnapshotCodec.decode(chunks)).toEqual(state);
    expect(notificationsSnapshotCodec.decode([chunks.join('')])).toEqual(state);
    expect(deliveryById(notificationsSnapshotCodec.decode(chunks), deliveries[7]!.id)).toEqual(deliveries[7]);
    expect(Object.isFrozen(deliveryById(notificationsSnapshotCodec.decode(chunks), deliveries[7]!.id))).toBe(true);
  });

  it('refuses a snapshot whose first line names no tries', () => {
    expect(() => notificationsSnapshotCodec.decode([`${JSON.stringify(state)}\n`])).toThrow('snapshot: the first line names no tries ($tries)');
  });

  it('refuses lines of a trie its first line does not name', () => {
    const [header, ...rest] = [...notificationsSnapshotCodec.encode(state)];
    const renamed = rest[0]!.replace('"deliveries"', '"strangers"');
    expect(() => notificationsSnapshotCodec.decode([header!, renamed])).toThrow('snapshot: entries of "strangers", which the header does not name');
  });
});
