import { randomUUID } from 'node:crypto';
import { VersionConflictError, type LogBackend, type LogRecord, type Snapshot, type StreamLog } from '../../lib/log';
import { openStore, type Store } from '../../lib/store';
import { emptyUsersState, signUp, usersAfter, usersSnapshotCodec, type UsersEvent, type UsersState } from '../../subgraphs/users/src/domain';
import { aLogRecord } from '../helpers/builders';
import { silentLogger } from '../helpers/logs';
import { eventually } from '../helpers/graphql';

/** Storage that backends are opened on, again and again: a folder, a memory, a database. */
export interface Place {
  /** A backend over this place, as a new process (or replica) would open it. */
  backend(): Promise<LogBackend>;
  /** Closes every backend opened here and removes the storage. */
  dispose(): Promise<void>;
}

export interface ContractSubject {
  readonly name: string;
  /** A fresh, empty place for one test. */
  place(): Promise<Place>;
  /**
   * Several writers on one stream, deciding by compare-and-append (memory,
   * PostgreSQL). Otherwise a stream has one writer and a second one is refused
   * when it opens the stream (the file backend's lock).
   */
  readonly multiWriter: boolean;
  /** What a second writer gets when the backend allows only one. */
  readonly secondWriterRefusal?: RegExp;
}

/** Resolves once `until` holds for what has been collected; checked after every batch. */
const collector = () => {
  const versions: number[] = [];
  const waiting: { until: (versions: number[]) => boolean; resolve: () => void }[] = [];
  const check = () => {
    for (const entry of [...waiting]) {
      if (entry.until(versions)) {
        waiting.splice(waiting.indexOf(entry), 1);
        entry.resolve();
      }
    }
  };
  return {
    versions,
    onRecords: (records: LogRecord[]) => {
      versions.push(...records.map((record) => record.version));
      check();
    },
    reach: (version: number) =>
      new Promise<void>((resolve) => {
        waiting.push({ until: (seen) => seen.includes(version), resolve });
        check();
      }),
  };
};

/** The contract every log backend keeps; one test file per backend runs it. */
export const runLogContract = (subject: ContractSubject): void => {
  let place: Place;
  const opened: StreamLog[] = [];
  beforeEach(async () => {
    place = await subject.place();
  });
  afterEach(async () => {
    // Tests close what they reopen; this closes what they leave open (a second close does nothing).
    for (const log of opened.splice(0)) await log.close().catch(() => undefined);
    await place.dispose();
  });

  const open = async (name = 'users', backend?: LogBackend) => {
    const replayed: LogRecord[] = [];
    let restored: Snapshot | undefined;
    const log = await (backend ?? (await place.backend())).openStream(name, {
      logger: silentLogger(),
      restore: (snapshot) => (restored = snapshot),
      replay: (records) => replayed.push(...records),
    });
    opened.push(log);
    return { log, replayed, restored: () => restored };
  };

  const appendAll = (log: StreamLog, from: number, to: number) =>
    Promise.all(Array.from({ length: to - from + 1 }, (_, i) => log.append(aLogRecord(from + i))));

  describe(`${subject.name} backend: the log contract`, () => {
    it('starts a new stream empty, at version 0', async () => {
      const backend = await place.backend();
      const { log, replayed } = await open('users', backend);

      expect(log.version).toBe(0);
      expect(replayed).toEqual([]);
      expect(await backend.head('users')).toBe(0);
      await log.close();
    });

    it('keeps concurrent appends in order and replays them after a restart', async () => {
      const { log } = await open();
      await appendAll(log, 1, 50);
      expect(log.version).toBe(50);
      await log.close();

      const reopened = await open();

      expect(reopened.replayed).toEqual(Array.from({ length: 50 }, (_, i) => aLogRecord(i + 1)));
      expect(reopened.log.version).toBe(50);
      await reopened.log.close();
    });

    it('keeps streams apart', async () => {
      const users = await open('users');
      const notifications = await open('notifications');
      await users.log.append(aLogRecord(1, 'u'));
      await notifications.log.append(aLogRecord(1, 'n'));
      await Promise.all([users.log.close(), notifications.log.close()]);

      expect((await open('users')).replayed).toEqual([aLogRecord(1, 'u')]);
      expect((await open('notifications')).replayed).toEqual([aLogRecord(1, 'n')]);
    });

    it("keeps a record's trace context for its readers: replayed, read and handed to subscribers", async () => {
      const backend = await place.backend();
      const { log } = await open('users', backend);
      const traced = { ...aLogRecord(1), trace: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' };
      await log.append(traced);
      await log.append(aLogRecord(2));
      const read: LogRecord[] = [];
      await log.read(0, (records) => read.push(...records));
      expect(read).toEqual([traced, aLogRecord(2)]);
      const handed: LogRecord[] = [];
      const subscription = backend.subscribe('users', {
        after: 0,
        consumer: 'notifications',
        logger: silentLogger(),
        onRecords: async (records) => void handed.push(...records),
      });
      await eventually(async () => handed.length, (count) => count === 2);
      await subscription.close();
      expect(handed).toEqual([traced, aLogRecord(2)]);
      await log.close();
      expect((await open('users')).replayed).toEqual([traced, aLogRecord(2)]);
    });

    it('reads the records after a version, in order', async () => {
      const { log } = await open();
      await appendAll(log, 1, 5);
      const read: LogRecord[] = [];

      const newest = await log.read(2, (records) => read.push(...records));

      expect(newest).toBe(5);
      expect(read.map((record) => record.version)).toEqual([3, 4, 5]);
      await log.close();
    });

    it('restores the newest snapshot and replays only the records after it', async () => {
      const { log } = await open();
      await appendAll(log, 1, 3);
      await log.snapshot(3, ['{"at":3}\n', '["more"]\n']);
      await appendAll(log, 4, 5);
      await log.close();

      const reopened = await open();

      expect(reopened.restored()?.version).toBe(3);
      expect(reopened.restored()?.chunks.join('')).toBe('{"at":3}\n["more"]\n');
      expect(reopened.replayed.map((record) => record.version)).toEqual([4, 5]);
      expect(reopened.log.version).toBe(5);
      await reopened.log.close();
    });

    it('reopens a store from its newest snapshot and the records after it to the same state', async () => {
      const openUsers = async () =>
        openStore<UsersState, UsersEvent>({
          backend: await place.backend(),
          stream: 'users',
          initial: emptyUsersState(),
          codec: usersSnapshotCodec,
          logger: silentLogger(),
          snapshotEvery: { records: Number.POSITIVE_INFINITY, bytes: Number.POSITIVE_INFINITY },
        });
      const store = await openUsers();
      const signUpOne = (i: number) => store.execute(signUp({ name: `User ${i}`, email: `user${i}@example.com` }, { id: `u-${i}`, createdAt: new Date(i).toISOString() }));
      for (let i = 1; i <= 6; i++) await signUpOne(i);
      await store.snapshot();
      for (let i = 7; i <= 9; i++) await signUpOne(i);
      const state = store.state;
      await store.close();

      const { log, restored, replayed } = await open();
      await log.close();
      const reopened = await openUsers();

      expect(restored()?.version).toBe(6);
      expect(replayed.map((record) => record.version)).toEqual([7, 8, 9]);
      expect(reopened.version).toBe(9);
      expect(reopened.state).toEqual(state);
      await reopened.close();
    });

    it('hands a subscriber the records after its cursor, then later ones, and resumes from where it stopped', async () => {
      const writer = await open();
      await appendAll(writer.log, 1, 3);
      const reader = await place.backend();
      const first = collector();
      const subscription = reader.subscribe('users', { after: 1, consumer: 'notifications', logger: silentLogger(), onRecords: async (records) => first.onRecords(records) });
      await first.reach(3);
      await writer.log.append(aLogRecord(4));
      await first.reach(4);
      await subscription.close();
      expect(first.versions).toEqual([2, 3, 4]);
      expect(subscription.version).toBe(4);

      await appendAll(writer.log, 5, 6);
      const second = collector();
      const resumed = reader.subscribe('users', { after: subscription.version, consumer: 'notifications', logger: silentLogger(), onRecords: async (records) => second.onRecords(records) });
      await second.reach(6);
      await resumed.close();

      expect(second.versions).toEqual([5, 6]);
      expect(await reader.head('users')).toBe(6);
      await writer.log.close();
    });

    it('hands a batch to a subscriber again when its handler throws', async () => {
      const writer = await open();
      await appendAll(writer.log, 1, 2);
      const reader = await place.backend();
      const handed: number[][] = [];
      let delivered!: () => void;
      const done = new Promise<void>((resolve) => (delivered = resolve));
      const subscription = reader.subscribe('users', {
        after: 0,
        consumer: 'notifications',
        logger: silentLogger(),
        onRecords: async (records) => {
          handed.push(records.map((record) => record.version));
          if (handed.length === 1) throw new Error('not yet');
          delivered();
        },
      });
      await done;
      await subscription.close();

      expect(handed).toEqual([
        [1, 2],
        [1, 2],
      ]);
      expect(subscription.version).toBe(2);
      await writer.log.close();
    });

    if (!subject.multiWriter) {
      it('refuses a second writer on the same stream when it opens it (one writer per stream)', async () => {
        const first = await open();
        await first.log.append(aLogRecord(1));

        await expect(open('users', await place.backend())).rejects.toThrow(subject.secondWriterRefusal!);
        await first.log.append(aLogRecord(2));
        await first.log.close();
        expect((await open()).replayed.map((record) => record.version)).toEqual([1, 2]);
      });
      return;
    }

    describe('two writers on one stream', () => {
      it('refuses with VersionConflictError a version another writer took, and the refusal writes nothing', async () => {
        const a = await open('users', await place.backend());
        const b = await open('users', await place.backend());
        await a.log.append(aLogRecord(1, 'from a'));

        const refused = b.log.append(aLogRecord(1, 'from b'));

        await expect(refused).rejects.toBeInstanceOf(VersionConflictError);
        await expect(refused).rejects.toMatchObject({ stream: 'users', version: 1 });
        await Promise.all([a.log.close(), b.log.close()]);
        expect((await open()).replayed).toEqual([aLogRecord(1, 'from a')]);
      });

      it('refuses every append pipelined behind a conflict, and takes appends again once the writer has read', async () => {
        const a = await open('users', await place.backend());
        const b = await open('users', await place.backend());
        await a.log.append(aLogRecord(1, 'from a'));

        const pipelined = [b.log.append(aLogRecord(1, 'b1')), b.log.append(aLogRecord(2, 'b2')), b.log.append(aLogRecord(3, 'b3'))];
        const outcomes = await Promise.allSettled(pipelined);
        expect(outcomes.map((outcome) => outcome.status)).toEqual(['rejected', 'rejected', 'rejected']);
        await expect(b.log.append(aLogRecord(2, 'b2 before reading'))).rejects.toBeInstanceOf(VersionConflictError);

        const caughtUp: LogRecord[] = [];
        expect(await b.log.read(0, (records) => caughtUp.push(...records))).toBe(1);
        await b.log.append(aLogRecord(2, 'b2'));
        await Promise.all([a.log.close(), b.log.close()]);

        expect(caughtUp).toEqual([aLogRecord(1, 'from a')]);
        expect((await open()).replayed).toEqual([aLogRecord(1, 'from a'), aLogRecord(2, 'b2')]);
      });

      it('keeps the newer snapshot when another writer stores an older one after it', async () => {
        const a = await open('users', await place.backend());
        await appendAll(a.log, 1, 3);
        const b = await open('users', await place.backend());

        await Promise.all([a.log.snapshot(3, ['three']), b.log.snapshot(3, ['three, again'])]);
        await b.log.snapshot(2, ['two']);

        const reopened = await open();
        expect(reopened.restored()?.version).toBe(3);
        expect(reopened.replayed).toEqual([]);
      });

      it('lets a writer follow what the other appends', async () => {
        const a = await open('users', await place.backend());
        const b = await open('users', await place.backend());
        const followed = collector();
        const follower = b.log.follow(0, followed.onRecords);
        await appendAll(a.log, 1, 3);
        await followed.reach(3);
        await follower.close();

        expect(followed.versions).toEqual([1, 2, 3]);
        await Promise.all([a.log.close(), b.log.close()]);
      });

      it('makes a store that lost the race run its commands again, in order, on the winner\'s state', async () => {
        const logger = silentLogger();
        const openReplica = async () => openStore<UsersState, UsersEvent>({ backend: await place.backend(), stream: 'users', initial: emptyUsersState(), logger });
        const [a, b] = [await openReplica(), await openReplica()];
        const made = (id: string) => ({ id, createdAt: new Date(0).toISOString() });

        // Both decide on the empty state in the same turn; b's three commands are pipelined behind its first.
        const [winner, ...rerun] = await Promise.all([
          a.execute(signUp({ name: 'Ada', email: 'ada@example.com' }, made('a-ada'))),
          b.execute(signUp({ name: 'Ada Too', email: 'ADA@example.com' }, made('b-ada'))),
          b.execute(signUp({ name: 'Bob', email: 'bob@example.com' }, made('b-bob'))),
          b.execute(signUp({ name: 'Cy', email: 'cy@example.com' }, made('b-cy'))),
        ]);

        expect(winner.user?.seq).toBe(1);
        expect(rerun.map((outcome) => outcome.errors.map((error) => error.code))).toEqual([['EMAIL_TAKEN'], [], []]);
        expect(rerun.map((outcome) => outcome.user?.seq ?? null)).toEqual([null, 2, 3]);
        expect(b.version).toBe(3);
        await a.catchUp();
        expect(a.state).toEqual(b.state);
        await Promise.all([a.close(), b.close()]);
      });

      it('runs a store on two replicas concurrently to one state, losing no command', async () => {
        const logger = silentLogger();
        const openReplica = async () =>
          openStore<UsersState, UsersEvent>({ backend: await place.backend(), stream: 'users', initial: emptyUsersState(), codec: usersSnapshotCodec, logger });
        const replicas: Store<UsersState, UsersEvent>[] = [await openReplica(), await openReplica()];
        const emails = Array.from({ length: 40 }, (_, i) => `person${i}@example.com`);
        // Every email is tried on both replicas at once: exactly one of each pair may win.
        const outcomes = await Promise.all(
          emails.flatMap((email) =>
            replicas.map((replica) => replica.execute(signUp({ name: 'Someone', email }, { id: randomUUID(), createdAt: new Date(0).toISOString() }))),
          ),
        );
        const created = outcomes.filter((outcome) => outcome.user);
        const refused = outcomes.filter((outcome) => outcome.errors.some((error) => error.code === 'EMAIL_TAKEN'));
        expect(created).toHaveLength(emails.length);
        expect(refused).toHaveLength(emails.length);

        for (const replica of replicas) await replica.catchUp();

        expect(replicas[0]!.version).toBe(emails.length);
        expect(replicas[1]!.state).toEqual(replicas[0]!.state);
        expect(usersAfter(replicas[0]!.state, 0, 100).users.map((user) => user.email).sort()).toEqual([...emails].sort());
        await Promise.all(replicas.map((replica) => replica.close()));

        const fresh = await openReplica();
        expect(fresh.state).toEqual(replicas[0]!.state);
        await fresh.close();
      });
    });
  });
};
