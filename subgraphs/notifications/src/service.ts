import { join } from 'node:path';
import type { Config } from '../../../lib/config';
import type { Logger } from '../../../lib/logger';
import { listenService, type RunningService } from '../../../lib/service';
import { streamDir } from '../../../lib/log';
import { openStore } from '../../../lib/store';
import { startUserEventsConsumer } from './consumer';
import type { Context } from './context';
import { startDeliveryWorker, type RetryPolicy } from './delivery-worker';
import { emptyNotificationsState, queuedDeliveries, type NotificationsState } from './domain';
import { createMailer } from './mailer';
import { createNotificationsServer } from './server';

export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1_000, maxMs: 5 * 60_000 };

/** The domain of the From address names the Message-IDs this service makes. */
export const messageIdDomainOf = (from: string): string => /@([^\s>@]+)>?\s*$/.exec(from)?.[1] ?? 'localhost';

/**
 * Loads the notifications state, follows the users' events, sends what is
 * queued (including what a previous run left unsent) and serves the subgraph.
 */
export const startNotificationsService = async (
  config: Config,
  logger: Logger,
  { retry = DEFAULT_RETRY }: { retry?: RetryPolicy } = {},
): Promise<RunningService> => {
  const store = await openStore<NotificationsState, never>({
    dir: streamDir(config.DATA_DIR, 'notifications'),
    initial: emptyNotificationsState(),
    logger,
  });
  const now = () => new Date();
  const mailer = createMailer({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM, outboxDir: join(config.DATA_DIR, 'outbox'), logger });
  const worker = startDeliveryWorker({ store, mailer, logger, retry, now });
  for (const delivery of queuedDeliveries(store.state)) worker.schedule(delivery.id);
  const consumer = startUserEventsConsumer({
    store,
    usersLogDir: streamDir(config.DATA_DIR, 'users'),
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
  try {
    return await listenService({
      name: 'notifications',
      apollo: createNotificationsServer(),
      context: async () => context,
      host: config.HOST,
      port: config.NOTIFICATIONS_PORT,
      path: '/graphql',
      logger,
      onStop: stopAll,
    });
  } catch (error) {
    await stopAll();
    throw error;
  }
};
