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
}

/**
 * Reads a stream as it grows: a notification wakes it, a catch-up query by
 * version reads what is new. The timer covers notifications that never came.
 */
export const startFollower = ({ pool, notifier, stream, after, onRecords, logger, pollMs }: FollowerOptions) => {
  let version = after;
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
      stopListening();
      await running;
    },
  };
};
