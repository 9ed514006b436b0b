import { Client } from 'pg';
import { openPostgresBackend, type LogBackend } from '../../lib/log';
import { aLogRecord } from '../helpers/builders';
import { describeWithPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres';
import { runLogContract } from './contract';
import { silentLogger } from '../helpers/logs';

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
