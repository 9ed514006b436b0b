import { randomUUID } from 'node:crypto';
import { Counter } from 'prom-client';
import type { Config } from '../../../lib/config';
import type { Logger } from '../../../lib/logger';
import { createAppendHistogram, createServiceMetrics, graphqlMetricsPlugin } from '../../../lib/metrics';
import { listenService, type RunningService } from '../../../lib/service';
import { streamDir } from '../../../lib/log';
import { openStore } from '../../../lib/store';
import type { Context } from './context';
import { emptyUsersState, usersSnapshotCodec, type UsersEvent, type UsersState } from './domain';
import { createUsersServer } from './server';

/** Loads the users state from its log and serves the subgraph; `onFatal` hears of a log that can no longer be written. */
export const startUsersService = async (
  config: Config,
  baseLogger: Logger,
  onFatal?: (error: Error) => void,
): Promise<RunningService> => {
  const logger = baseLogger.child({ service: 'users' });
  const metrics = createServiceMetrics('users');
  const appends = createAppendHistogram(metrics);
  const signUps = new Counter({
    name: 'signups_total',
    help: 'Sign-ups, by outcome: created, or the refusal code (EMAIL_TAKEN, INVALID_EMAIL, INVALID_NAME)',
    labelNames: ['outcome'],
    registers: [metrics.registry],
  });
  const store = await openStore<UsersState, UsersEvent>({
    dir: streamDir(config.DATA_DIR, 'users'),
    initial: emptyUsersState(),
    codec: usersSnapshotCodec,
    logger,
    onFailure: onFatal,
    snapshotEvery: { records: config.SNAPSHOT_EVERY_RECORDS, bytes: config.SNAPSHOT_EVERY_BYTES },
    fsync: config.LOG_FSYNC === 'on',
    onAppend: (seconds) => appends.observe(seconds),
  });
  const context: Context = { store, logger, newId: randomUUID, now: () => new Date(), onSignUp: (outcome) => signUps.inc({ outcome }) };
  try {
    return await listenService({
      name: 'users',
      apollo: createUsersServer({ production: config.NODE_ENV === 'production', plugins: [graphqlMetricsPlugin(metrics)] }),
      context: async (scope) => ({
        ...context,
        get logger() {
          return scope.logger;
        },
      }),
      // The one writer of its log: once the store is open (replayed), its state is the newest there is.
      ready: () => true,
      host: config.HOST,
      port: config.USERS_PORT,
      path: '/graphql',
      // listenService binds the service name itself.
      logger: baseLogger,
      secret: config.SUBGRAPH_SECRET,
      metrics,
      metricsToken: config.METRICS_TOKEN,
      onStop: () => store.close(),
    });
  } catch (error) {
    await store.close();
    throw error;
  }
};
