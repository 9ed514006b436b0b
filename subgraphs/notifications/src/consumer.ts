import type { Logger } from '../../../lib/logger';
import { acknowledge, tailFileLog, type Tail } from '../../../lib/log';
import type { Store } from '../../../lib/store';
import { consumeUserRecords, type NotificationsState } from './domain';

export interface ConsumerOptions {
  readonly store: Store<NotificationsState, never>;
  /** The users service's log directory. */
  readonly usersLogDir: string;
  readonly messageIdDomain: string;
  readonly now: () => Date;
  readonly logger: Logger;
  /** Called with each delivery queued. */
  readonly onQueued: (deliveryId: string) => void;
}

/** The name under which this service acknowledges what it has read of the users' log. */
export const CONSUMER_NAME = 'notifications';

/**
 * Follows the users' log from the cursor kept in this service's own state, and
 * acknowledges what is durably consumed, so the users service keeps every
 * segment this service has yet to read.
 */
export const startUserEventsConsumer = async ({
  store,
  usersLogDir,
  messageIdDomain,
  now,
  logger,
  onQueued,
}: ConsumerOptions): Promise<Tail> => {
  await acknowledge(usersLogDir, CONSUMER_NAME, store.state.cursor);
  return tailFileLog({
    dir: usersLogDir,
    after: store.state.cursor,
    logger,
    onRecords: async (records) => {
      const queued = await store.execute(consumeUserRecords(records, { now: now().toISOString(), messageIdDomain }));
      if (queued.length) logger.info({ count: queued.length, cursor: store.state.cursor }, 'welcome emails queued');
      for (const delivery of queued) onQueued(delivery.id);
      await acknowledge(usersLogDir, CONSUMER_NAME, store.state.cursor);
    },
  });
};
