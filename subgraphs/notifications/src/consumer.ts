import type { Logger } from '../../../lib/logger';
import type { LogBackend, Subscription } from '../../../lib/log';
import type { Store } from '../../../lib/store';
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
}

/** The name under which this service reads the users' stream. */
export const CONSUMER_NAME = 'notifications';

/**
 * Follows the users' stream from the cursor kept in this service's own state:
 * each batch of records is consumed by one command that queues the deliveries
 * and advances the cursor together.
 */
export const startUserEventsConsumer = ({ store, backend, messageIdDomain, now, logger, onQueued, onPoisoned }: ConsumerOptions): Subscription =>
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
      const { queued, poisoned } = await store.execute(consumeUserRecords(records, { now: now().toISOString(), messageIdDomain }));
      for (const event of poisoned) {
        logger.error(event, "an event of the users' log cannot be consumed: recorded as poisoned (query poisonedUserEvents), the rest go on");
      }
      if (poisoned.length) onPoisoned(poisoned.length);
      if (queued.length) logger.info({ count: queued.length, cursor: store.state.cursor }, 'welcome emails queued');
      for (const delivery of queued) onQueued(delivery.id);
    },
  });
