import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { LogGapError, type LogRecord } from '../types';
import type { Notifier } from './notifier';
import { readPage } from './records';

export interface FollowerOptions {
  readonly pool: Pool;
  readonly notifier: Notifier;
  readonly stream: string;
  readonly after: number;
  /** Called with each batch of new records, in order; a throw hands the batch over again at the next wake. */
  readonly onRecords: (records: LogRecord[]) => void | Promise<void>;
  readonly logger: Logger;
  /** NOTIFY can be missed (not listening yet, reconnecting): a catch-up query runs at least this often. */
  readonly pollMs: number;
  /** Set: how far this reader has consumed is recorded in `log_readers`, so pruning keeps what it still needs. */
  readonly consumer?: string | undefined;
  /** See `SubscribeOptions.consumed`. */
  readonly consumed?: (() => Promise<number>) | undefined;
}

/** How often a reader records how far it has consumed: a late acknowledgement only delays pruning. */
const ACK_EVERY_MS = 1_000;

// Replicas of one reader share its row: the furthest any of them consumed is what the reader has consumed
// (the consume command is decided on their shared state), and a replica behind it skips the pruned part.
const ACKNOWLEDGE = `
  INSERT INTO log_readers (stream, reader, version) VALUES ($1, $2, $3)
  ON CONFLICT (stream, reader) DO UPDATE SET version = GREATEST(log_readers.version, EXCLUDED.version)`;

/**
 * Reads a stream as it grows: a notification wakes it, a catch-up query by
 * version reads what is new. The timer covers notifications that never came.
 */
export const startFollower = ({ pool, notifier, stream, after, onRecords, logger, pollMs, consumer, consumed }: FollowerOptions) => {
  let version = after;
  // `after` is durable in the reader's state: recorded on the first tick too.
  let acknowledged = -1;
  let acknowledging: Promise<void> = Promise.resolve();
  let ackFailing = false;
  const acknowledge = () => {
    if (consumer === undefined || version === acknowledged) return acknowledging;
    const upTo = version;
    acknowledging = pool.query(ACKNOWLEDGE, [stream, consumer, upTo]).then(
      () => {
        acknowledged = Math.max(acknowledged, upTo);
        ackFailing = false;
      },
      (error: unknown) => {
        // Once per outage: the database being away is said elsewhere too.
        if (!ackFailing) logger.warn({ err: error, stream, consumer }, 'recording how far this reader has read failed; will retry');
        ackFailing = true;
      },
    );
    return acknowledging;
  };
  const ackTimer = consumer === undefined ? undefined : setInterval(() => void acknowledge(), ACK_EVERY_MS);
  ackTimer?.unref();
  let closed = false;
  let again = false;
  let running: Promise<void> | undefined;
  let failing = false;
  let gap: LogGapError | undefined;

  const drain = async () => {
    do {
      again = false;
      try {
        for (;;) {
          const page = await readPage(pool, stream, version);
          if (closed || !page.length) break;
          if (page[0]!.version !== version + 1) {
            const cursor = consumed ? await consumed() : version;
            if (cursor >= page[0]!.version - 1) {
              // Consumed by another replica of this reader, then pruned: nothing is missing.
              version = Math.max(version, cursor);
              continue;
            }
            gap = new LogGapError(stream, version, page[0]!.version);
            logger.error({ stream, after: version, first: page[0]!.version }, `${gap.message}: reading stops here`);
            closed = true;
            break;
          }
          await onRecords(page);
          version = page.at(-1)!.version;
        }
        if (failing) logger.info({ stream, version }, 'following the stream again');
        failing = false;
      } catch (error) {
        // Logged once per outage; the timer retries.
        if (!failing) logger.warn({ err: error, stream, version }, 'reading or handling new records failed; retrying');
        failing = true;
      }
    } while (again && !closed);
    running = undefined;
  };

  const wake = () => {
    if (closed) return;
    if (running) again = true;
    else running = drain();
  };

  const stopListening = notifier.listen(stream, wake);
  const timer = setInterval(wake, pollMs);
  timer.unref();
  wake();

  return {
    get version() {
      return version;
    },
    get gap() {
      return gap;
    },
    async close() {
      closed = true;
      clearInterval(timer);
      clearInterval(ackTimer);
      stopListening();
      await running;
      await acknowledge();
    },
  };
};
