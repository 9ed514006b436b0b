import type { Logger } from '../../../lib/logger';
import { tailFileLog, type Tail } from '../../../lib/log';
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

/** Follows the users' log from the cursor kept in this service's own state. */
export const startUserEventsConsumer = ({ store, usersLogDir, messageIdDomain, now, logger, onQueued }: ConsumerOptions): Tail =>
  tailFileLog({
    dir: usersLogDir,
    after: store.state.cursor,
    logger,
    onRecords: async (records) => {
      const queued = await store.execute(consumeUserRecords(records, { now: now().toISOString(), messageIdDomain }));
      if (queued.length) logger.info({ count: queued.length, cursor: store.state.cursor }, 'welcome emails queued');
      for (const delivery of queued) onQueued(delivery.id);
    },
  });
