import { join } from 'node:path';
import type { Config } from '../../../lib/config';
import type { Logger } from '../../../lib/logger';
import { graphqlMetricsPlugin } from '../../../lib/metrics';
import { listenService, type RunningService } from '../../../lib/service';
import { readLogHead, streamDir } from '../../../lib/log';
import { openStore } from '../../../lib/store';
import { startUserEventsConsumer } from './consumer';
import type { Context } from './context';
import { startDeliveryWorker } from './delivery-worker';
import { emptyNotificationsState, queuedDeliveries, type NotificationsState } from './domain';
import { createMailer } from './mailer';
import { countingMailer, createNotificationsMetrics } from './observability';
import { createNotificationsServer } from './server';

/** The domain of the From address names the Message-IDs this service makes. */
export const messageIdDomainOf = (from: string): string => /@([^\s>@]+)>?\s*$/.exec(from)?.[1] ?? 'localhost';

/**
 * Loads the notifications state, follows the users' events, sends what is
 * queued (including what a previous run left unsent) and serves the subgraph.
 */
export const startNotificationsService = async (
  config: Config,
  baseLogger: Logger,
  onFatal?: (error: Error) => void,
): Promise<RunningService> => {
  const logger = baseLogger.child({ service: 'notifications' });
  const usersLogDir = streamDir(config.DATA_DIR, 'users');
  let consumed = () => 0;
  const lag = async () => ({ head: await readLogHead(usersLogDir), consumed: consumed() });
  const metrics = createNotificationsMetrics(lag);
  const store = await openStore<NotificationsState, never>({
    dir: streamDir(config.DATA_DIR, 'notifications'),
    initial: emptyNotificationsState(),
    logger,
    onFailure: onFatal,
    snapshotEvery: { records: config.SNAPSHOT_EVERY_RECORDS, bytes: config.SNAPSHOT_EVERY_BYTES },
    fsync: config.LOG_FSYNC === 'on',
    onAppend: (seconds) => metrics.appends.observe(seconds),
  });
  consumed = () => store.state.cursor;
  const now = () => new Date();
  const mailer = countingMailer(
    createMailer({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM, outboxDir: join(config.DATA_DIR, 'outbox'), logger }),
    metrics.emails,
  );
  const retry = { baseMs: config.SMTP_RETRY_BASE_MS, maxMs: config.SMTP_RETRY_MAX_MS };
  const worker = startDeliveryWorker({ store, mailer, logger, retry, now });
  for (const delivery of queuedDeliveries(store.state)) worker.schedule(delivery.id);
  const consumer = await startUserEventsConsumer({
    store,
    usersLogDir,
    messageIdDomain: messageIdDomainOf(config.MAIL_FROM),
    now,
    logger,
    onQueued: (id) => worker.schedule(id),
  });
  const stopAll = async () => {
    await consumer.close();
    await worker.close();
    mailer.close();
    await store.close();
  };
  const context: Context = { store, logger, sendSoon: (id) => worker.schedule(id) };
  // Ready once the consumer has caught up with the users' log after start; later lag is a metric, not a reason to leave rotation.
  let caughtUp = false;
  const ready = async () => {
    if (!caughtUp) {
      const { head, consumed: done } = await lag();
      caughtUp = done >= head;
    }
    return caughtUp;
  };
  try {
    return await listenService({
      name: 'notifications',
      apollo: createNotificationsServer({ production: config.NODE_ENV === 'production', plugins: [graphqlMetricsPlugin(metrics)] }),
      context: async (scope) => ({
        ...context,
        get logger() {
          return scope.logger;
        },
      }),
      ready,
      host: config.HOST,
      port: config.NOTIFICATIONS_PORT,
      path: '/graphql',
      // listenService binds the service name itself.
      logger: baseLogger,
      secret: config.SUBGRAPH_SECRET,
      metrics,
      metricsToken: config.METRICS_TOKEN,
      onStop: stopAll,
    });
  } catch (error) {
    await stopAll();
    throw error;
  }
};
