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
  // An acknowledgement only lets the writer drop old segments, so a late one is always safe: at most one
  // a second (and one at close) instead of a file write and rename per batch of records.
  let acknowledged = store.state.cursor;
  let pending: NodeJS.Timeout | undefined;
  let writing: Promise<void> = Promise.resolve();
  const flushAck = () => {
    pending = undefined;
    const cursor = store.state.cursor;
    if (cursor === acknowledged) return writing;
    acknowledged = cursor;
    writing = writing
      .then(() => acknowledge(usersLogDir, CONSUMER_NAME, cursor))
      .catch((error: unknown) => {
        acknowledged = -1;
        logger.warn({ err: error, dir: usersLogDir }, 'acknowledging the users log failed; will retry');
      });
    return writing;
  };
  const tail = tailFileLog({
    dir: usersLogDir,
    after: store.state.cursor,
    logger,
    // Under load the users log is appended every few milliseconds: read it in batches, not once per append.
    settleMs: 20,
    onRecords: async (records) => {
      const queued = await store.execute(consumeUserRecords(records, { now: now().toISOString(), messageIdDomain }));
      if (queued.length) logger.info({ count: queued.length, cursor: store.state.cursor }, 'welcome emails queued');
      for (const delivery of queued) onQueued(delivery.id);
      pending ??= setTimeout(flushAck, ACK_EVERY_MS).unref();
    },
  });
  return {
    get version() {
      return tail.version;
    },
    async close() {
      await tail.close();
      clearTimeout(pending);
      await flushAck();
    },
  };
};

/** How long an acknowledgement of the users log may lag behind what is durably consumed. */
export const ACK_EVERY_MS = 1_000;
