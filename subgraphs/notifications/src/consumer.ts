import type { Logger } from '../../../lib/logger';
import type { LogBackend, Subscription } from '../../../lib/log';
import type { Store } from '../../../lib/store';
import { inSpan, linksTo, SpanKind, tracingOff, type Tracer } from '../../../lib/tracing';
import { consumeUserRecords, type NotificationsState } from './domain';

export interface ConsumerOptions {
  readonly store: Store<NotificationsState, never>;
  /** Where the users service's stream is read from. */
  readonly backend: LogBackend;
  readonly messageIdDomain: string;
  readonly now: () => Date;
  readonly logger: Logger;
  /** Called with each delivery queued. */
  readonly onQueued: (deliveryId: string) => void;
  /** Called with how many events of a batch could not be consumed. */
  readonly onPoisoned: (count: number) => void;
  /** Each batch is a span that links to the sign-ups it carries. */
  readonly tracer?: Tracer;
}

/** The name under which this service reads the users' stream. */
export const CONSUMER_NAME = 'notifications';

/**
 * Follows the users' stream from the cursor kept in this service's own state:
 * each batch of records is consumed by one command that queues the deliveries
 * and advances the cursor together.
 */
export const startUserEventsConsumer = ({
  store,
  backend,
  messageIdDomain,
  now,
  logger,
  onQueued,
  onPoisoned,
  tracer = tracingOff.tracer,
}: ConsumerOptions): Subscription =>
  backend.subscribe('users', {
    after: store.state.cursor,
    consumer: CONSUMER_NAME,
    // Replicas share one cursor: one that fell behind goes on from where the others have consumed.
    consumed: async () => {
      await store.catchUp();
      return store.state.cursor;
    },
    logger,
    onRecords: async (records) => {
      const span = {
        kind: SpanKind.CONSUMER,
        links: linksTo(records.map((record) => record.trace)),
        attributes: { 'messaging.operation.type': 'process', 'messaging.batch.message_count': records.length, 'log.stream': 'users' },
      };
      const { queued, poisoned } = await inSpan(tracer, 'users process', span, () =>
        store.execute(consumeUserRecords(records, { now: now().toISOString(), messageIdDomain }), { name: 'consumeUserRecords' }),
      );
      for (const event of poisoned) {
        logger.error(event, "an event of the users' log cannot be consumed: recorded as poisoned (query poisonedUserEvents), the rest go on");
      }
      if (poisoned.length) onPoisoned(poisoned.length);
      if (queued.length) logger.info({ count: queued.length, cursor: store.state.cursor }, 'welcome emails queued');
      for (const delivery of queued) onQueued(delivery.id);
    },
  });
