import { Client } from 'pg';
import { openPostgresBackend, type LogBackend } from '../../lib/log';
import { openStore } from '../../lib/store';
import { emptyUsersState, signUp, usersSnapshotCodec, type UsersEvent, type UsersState } from '../../subgraphs/users/src/domain';
import { aLogRecord, aUsersState } from '../helpers/builders';
import { describeWithPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres';
import { runLogContract } from './contract';
import { eventually } from '../helpers/graphql';
import { recordingLogger, silentLogger } from '../helpers/logs';

describeWithPostgres('PostgreSQL log backend', () => {
  let cluster: PostgresCluster;
  let databases = 0;
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterAll(() => cluster?.stop());

  runLogContract({
    name: 'postgres',
    multiWriter: true,
    place: async () => {
      const url = await cluster.createDatabase(`contract_${++databases}`);
      const opened: LogBackend[] = [];
      return {
        // Each backend has its own pool and its own LISTEN connection: a replica.
        backend: async () => {
          const backend = await openPostgresBackend({ url, logger: silentLogger(), pollMs: 200 });
          opened.push(backend);
          return backend;
        },
        dispose: async () => {
          await Promise.all(opened.map((backend) => backend.close()));
        },
      };
    },
  });

  describe('snapshots in parts', () => {
    const openUsers = (backend: LogBackend) =>
      openStore<UsersState, UsersEvent>({
        backend,
        stream: 'users',
        initial: emptyUsersState(),
        codec: usersSnapshotCodec,
        snapshotEvery: { records: Number.POSITIVE_INFINITY, bytes: Number.POSITIVE_INFINITY },
        logger: silentLogger(),
      });

    it('stores a snapshot as one row per chunk and loads it back to the same state', async () => {
      const url = await cluster.createDatabase('snapshot_parts');
      const backend = await openPostgresBackend({ url, logger: silentLogger() });
      try {
        const store = await openUsers(backend);
        // 12,000 users: the header and two chunks of up to 10,000.
        for (let round = 0; round < 12; round++) {
          await Promise.all(
            Array.from({ length: 1_000 }, (_, i) => {
              const n = round * 1_000 + i;
              return store.execute(signUp({ name: `User ${n}`, email: `user${n}@example.com` }, { id: `id-${n}`, createdAt: new Date(0).toISOString() }));
            }),
          );
        }
        await store.snapshot();
        const state = store.state;
        await store.close();
        const client = new Client({ connectionString: url });
        await client.connect();
        const { rows } = await client.query('SELECT version::int, part FROM log_snapshots WHERE version = 12000 ORDER BY part');
        await client.end();
        expect(rows).toEqual([0, 1, 2].map((part) => ({ version: 12_000, part })));

        const reopened = await openUsers(backend);
        expect(reopened.state).toEqual(state);
        await reopened.close();
      } finally {
        await backend.close();
      }
    });

    it('takes over a table of one-row snapshots, as written before parts: the old snapshot loads as part 0', async () => {
      const url = await cluster.createDatabase('snapshot_rows');
      const client = new Client({ connectionString: url });
      await client.connect();
      await client.query(`CREATE TABLE log_snapshots (stream text NOT NULL, version bigint NOT NULL, body text NOT NULL,
        written_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (stream, version))`);
      await client.query(`INSERT INTO log_snapshots (stream, version, body) VALUES ('users', 0, $1)`, [
        [...usersSnapshotCodec.encode(emptyUsersState())].join(''),
      ]);
      const before = [...usersSnapshotCodec.encode(aUsersState([{ name: 'Old' }]))].join('');
      await client.query(`INSERT INTO log_snapshots (stream, version, body) VALUES ('users', 1, $1)`, [before]);
      const backend = await openPostgresBackend({ url, logger: silentLogger() });
      try {
        const { rows } = await client.query(
          `SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
           WHERE i.indrelid = 'log_snapshots'::regclass AND i.indisprimary ORDER BY a.attnum`,
        );
        expect(rows.map((row) => row.attname)).toEqual(['stream', 'version', 'part']);
        const snapshot = await backend.readSnapshot('users', silentLogger());
        expect(snapshot).toEqual({ version: 1, chunks: [before] });
        expect(usersSnapshotCodec.decode(snapshot!.chunks).count).toBe(1);
      } finally {
        await client.end();
        await backend.close();
      }
    });
  });

  describe('pruning', () => {
    const BATCH = 40;
    const versionsIn = async (url: string, stream: string) => {
      const client = new Client({ connectionString: url });
      await client.connect();
      try {
        const { rows } = await client.query<{ first: number | null; count: number }>(
          'SELECT min(version)::int AS first, count(*)::int AS count FROM log_records WHERE stream = $1',
          [stream],
        );
        return rows[0]!;
      } finally {
        await client.end();
      }
    };
    const appendThrough = async (stream: { append: (record: ReturnType<typeof aLogRecord>) => Promise<void> }, from: number, to: number) => {
      for (let version = from; version <= to; version++) await stream.append(aLogRecord(version));
    };

    it('deletes, a bounded batch per run, the records below the spare snapshot that every declared reader has consumed, and keeps what a declared reader that never ran needs', async () => {
      const url = await cluster.createDatabase('pruning');
      const { logger, lines } = recordingLogger('info');
      const backend = await openPostgresBackend({ url, logger, pollMs: 100, prune: { everyMs: 100, batch: BATCH } });
      const other = await openPostgresBackend({ url, logger: silentLogger(), pollMs: 100 });
      try {
        const stream = await backend.openStream('users', { logger, readers: ['notifications', 'audit'], restore: () => undefined, replay: () => undefined });
        await appendThrough(stream, 1, 150);
        await stream.snapshot(100, ['{}']);
        await stream.snapshot(150, ['{}']);
        const notifications = other.subscribe('users', { after: 0, consumer: 'notifications', onRecords: async () => undefined, logger: silentLogger() });
        await eventually(async () => notifications.version, (version) => version === 150);
        await notifications.close();

        // `audit` is declared but never ran: it needs every record still.
        await new Promise((resolve) => setTimeout(resolve, 500));
        expect(await versionsIn(url, 'users')).toEqual({ first: 1, count: 150 });

        const audit = other.subscribe('users', { after: 0, consumer: 'audit', onRecords: async () => undefined, logger: silentLogger() });
        await eventually(async () => audit.version, (version) => version === 150);
        await audit.close();
        // Through the spare snapshot (100), never the records after it.
        await eventually(() => versionsIn(url, 'users'), (left) => left.first === 101);
        expect(await versionsIn(url, 'users')).toEqual({ first: 101, count: 50 });
        const runs = lines.filter((line) => line.msg === 'log records pruned').map((line) => line['deleted']);
        expect(runs).toEqual([40, 40, 20]);
        await stream.close();
      } finally {
        await Promise.all([backend.close(), other.close()]);
      }
    });

    it('lets a replica of a reader that fell behind go on past records another replica consumed and pruning removed', async () => {
      const url = await cluster.createDatabase('pruned_reader');
      const backend = await openPostgresBackend({ url, logger: silentLogger(), pollMs: 100, prune: { everyMs: 100, batch: 1_000 } });
      try {
        const stream = await backend.openStream('users', { logger: silentLogger(), readers: ['notifications'], restore: () => undefined, replay: () => undefined });
        await appendThrough(stream, 1, 60);
        await stream.snapshot(30, ['{}']);
        await stream.snapshot(60, ['{}']);
        const ahead = backend.subscribe('users', { after: 0, consumer: 'notifications', onRecords: async () => undefined, logger: silentLogger() });
        await eventually(async () => ahead.version, (version) => version === 60);
        await ahead.close();
        await eventually(() => versionsIn(url, 'users'), (left) => left.first === 31);

        const seen: number[] = [];
        // This replica's own cursor says 10; the shared state it reads says 45.
        const behind = backend.subscribe('users', {
          after: 10,
          consumer: 'notifications',
          consumed: async () => 45,
          onRecords: async (records) => void seen.push(...records.map((record) => record.version)),
          logger: silentLogger(),
        });
        await eventually(async () => behind.version, (version) => version === 60);
        await behind.close();
        expect(seen).toEqual(Array.from({ length: 15 }, (_, i) => 46 + i));
        expect(behind.gap).toBeUndefined();

        const lost = backend.subscribe('users', { after: 10, consumer: 'notifications', consumed: async () => 10, onRecords: async () => undefined, logger: silentLogger() });
        await eventually(async () => lost.gap, (gap) => gap !== undefined);
        await lost.close();
        expect(lost.gap).toMatchObject({ after: 10, first: 31 });
        await stream.close();
      } finally {
        await backend.close();
      }
    });
  });

  it('commits 200 concurrent appends, all of them, in far fewer transactions (group commit)', async () => {
    const url = await cluster.createDatabase('group_commit');
    const backend = await openPostgresBackend({ url, logger: silentLogger() });
    const stream = await backend.openStream('users', { logger: silentLogger(), replay: () => undefined });

    await Promise.all(Array.from({ length: 200 }, (_, i) => stream.append(aLogRecord(i + 1))));
    await stream.close();
    await backend.close();

    // xmin names the transaction that inserted a row.
    const client = new Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ records: number; transactions: number }>(
      "SELECT count(*)::int AS records, count(DISTINCT xmin::text)::int AS transactions FROM log_records WHERE stream = 'users'",
    );
    await client.end();
    expect(rows[0]).toEqual({ records: 200, transactions: expect.any(Number) });
    expect(rows[0]!.transactions).toBeLessThan(20);
  });

  it('creates its tables once when several replicas start together', async () => {
    const url = await cluster.createDatabase('migrations');

    const backends = await Promise.all(Array.from({ length: 4 }, () => openPostgresBackend({ url, logger: silentLogger() })));
    const stream = await backends[3]!.openStream('users', { logger: silentLogger(), replay: () => undefined });
    await stream.append(aLogRecord(1));
    await stream.close();
    await Promise.all(backends.map((backend) => backend.close()));

    const restarted = await openPostgresBackend({ url, logger: silentLogger() });
    expect(await restarted.head('users')).toBe(1);
    await restarted.close();
  });
});
