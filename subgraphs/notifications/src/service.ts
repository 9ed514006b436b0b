import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { defineSubgraphService, startSubgraph, type RunningService, type SubgraphStartOptions } from '../../../lib/service';
import { notificationsConfig, type NotificationsConfig } from './config';
import { startUserEventsConsumer } from './consumer';
import type { Context } from './context';
import { startDeliveryWorker } from './delivery-worker';
import { emptyNotificationsState, messageIdDomainOf, notificationsSnapshotCodec, queuedDeliveries, type NotificationsState } from './domain';
import { createMailer } from './mailer';
import { countingMailer, registerNotificationsMetrics } from './observability';
import { createNotificationsServer } from './server';

/**
 * The name this process's claims carry. One writer at a time holds the embedded
 * log, so there a fixed name lets a restart resume its own claims at once; on a
 * shared database every process is a replica of its own.
 */
const replicaIdOf = (config: NotificationsConfig): string =>
  config.REPLICA_ID ?? (config.DATABASE_URL ? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}` : 'embedded');

/**
 * Loads the notifications state, follows the users' events, sends what is
 * queued (including what a previous run left unsent) and serves the subgraph.
 */
export const startNotificationsService = (config: NotificationsConfig, { port, logger, onFatal }: SubgraphStartOptions): Promise<RunningService> =>
  startSubgraph<NotificationsState, never, Context>(config, logger, onFatal, {
    name: 'notifications',
    port,
    codec: notificationsSnapshotCodec,
    initial: emptyNotificationsState(),
    build: ({ store, backend, logger: serviceLogger, metrics, tracer }) => {
      const lag = async () => ({ head: await backend.head('users'), consumed: store.state.cursor });
      const { emails, poisoned, handOver, paused } = registerNotificationsMetrics(metrics, lag);
      const now = () => new Date();
      const shared = Boolean(config.DATABASE_URL);
      const leaseMs = config.DELIVERY_LEASE_MS;
      const mailer = countingMailer(
        createMailer({ smtpUrl: config.SMTP_URL, from: config.MAIL_FROM, outboxDir: join(config.DATA_DIR, 'outbox'), logger: serviceLogger }),
        emails,
      );
      const retry = { baseMs: config.SMTP_RETRY_BASE_MS, maxMs: config.SMTP_RETRY_MAX_MS, maxAgeMs: config.SMTP_RETRY_MAX_AGE_MS };
      const replica = replicaIdOf(config);
      serviceLogger.info({ replica, leaseMs, shared }, 'delivery claims');
      const worker = startDeliveryWorker({
        store,
        mailer,
        logger: serviceLogger,
        retry,
        now,
        replica,
        leaseMs,
        scanMs: shared ? config.DELIVERY_SCAN_MS : undefined,
        onPause: paused,
        onHandedOver: (ms) => handOver.observe(ms / 1000),
        tracer,
      });
      for (const delivery of queuedDeliveries(store.state)) worker.schedule(delivery.id);
      const consumer = startUserEventsConsumer({
        store,
        backend,
        messageIdDomain: messageIdDomainOf(config.MAIL_FROM),
        now,
        logger: serviceLogger,
        onQueued: (id) => worker.schedule(id),
        onPoisoned: (count) => poisoned.inc(count),
        tracer,
      });
      // Ready once the consumer has caught up with the users' stream after start. Later lag is a
      // metric (consumer_lag_records), not a reason to leave rotation: every replica would leave at once.
      let caughtUp = false;
      let gapReported = false;
      return {
        createServer: createNotificationsServer,
        context: { store, logger: serviceLogger, sendSoon: (id) => worker.schedule(id) },
        ready: async () => {
          if (consumer.gap) {
            if (!gapReported) {
              serviceLogger.error(
                { after: consumer.gap.after, first: consumer.gap.first },
                `${consumer.gap.message}: not ready. To queue their welcome emails from the users snapshot, stop this service and run \`npm run recover:welcome-emails\``,
              );
              gapReported = true;
            }
            return false;
          }
          if (!caughtUp) {
            const { head, consumed } = await lag();
            caughtUp = consumed >= head;
          }
          return caughtUp;
        },
        stop: async () => {
          await consumer.close();
          await worker.close();
          mailer.close();
        },
      };
    },
  });

/** The notifications subgraph as `npm start` and `npm run start:subgraph -- notifications` run it. */
export const subgraphService = defineSubgraphService({ config: notificationsConfig, start: startNotificationsService });
