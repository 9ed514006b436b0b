import { openPostgresBackend, type LogBackend } from '../../lib/log';
import { describeWithPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres';
import { silentLogger } from '../helpers/temp-dir';
import { runLogContract } from './contract';

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
});
