import { randomUUID } from 'node:crypto';
import { Counter } from 'prom-client';
import type { UsersConfig } from './config';
import type { Logger } from '../../../lib/logger';
import { createAppendHistogram, createServiceMetrics, graphqlMetricsPlugin } from '../../../lib/metrics';
import { listenService, type RunningService } from '../../../lib/service';
import { openLogBackend } from '../../../lib/log';
import { openStore } from '../../../lib/store';
import type { Context } from './context';
import { emptyUsersState, usersSnapshotCodec, type UsersEvent, type UsersState } from './domain';
import { createUsersServer } from './server';

/** Loads the users state from its log and serves the subgraph; `onFatal` hears of a log that can no longer be written. */
export const startUsersService = async (
  config: UsersConfig,
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
  const backend = await openLogBackend(config, logger);
  const store = await openStore<UsersState, UsersEvent>({
    backend,
    stream: 'users',
    initial: emptyUsersState(),
    codec: usersSnapshotCodec,
    logger,
    onFailure: onFatal,
    snapshotEvery: { records: config.SNAPSHOT_EVERY_RECORDS, bytes: config.SNAPSHOT_EVERY_BYTES },
    onAppend: (seconds) => appends.observe(seconds),
  }).catch(async (error: unknown) => {
    await backend.close();
    throw error;
  });
  const stop = async () => {
    await store.close();
    await backend.close();
  };
  const context: Context = { store, logger, newId: randomUUID, now: () => new Date(), onSignUp: (outcome) => signUps.inc({ outcome }) };
  try {
    return await listenService({
      name: 'users',
      apollo: createUsersServer({ production: config.NODE_ENV === 'production', plugins: [graphqlMetricsPlugin(metrics)] }),
      context: async (scope) => ({ ...context, logger: scope.logger }),
      // Once the store is open (replayed) it serves; replicas follow the stream from there.
      ready: () => true,
      host: config.HOST,
      port: config.USERS_PORT,
      path: '/graphql',
      // listenService binds the service name itself.
      logger: baseLogger,
      secret: config.SUBGRAPH_SECRET,
      metrics,
      metricsToken: config.METRICS_TOKEN,
      onStop: stop,
    });
  } catch (error) {
    await stop();
    throw error;
  }
};
