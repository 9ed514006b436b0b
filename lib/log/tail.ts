import { watch, type FSWatcher } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { LOG_FILE } from './file-log';
import { parseChunk, type LogRecord } from './record';

export interface TailOptions {
  readonly dir: string;
  /** Records up to and including this version are skipped. */
  readonly after: number;
  /** Called with each batch of new records, in order; the next batch waits for it. A throw retries the batch. */
  readonly onRecords: (records: LogRecord[]) => Promise<void>;
  readonly logger: Logger;
  /** Fallback poll interval for file systems where change events are unreliable. */
  readonly pollMs?: number;
}

export interface Tail {
  /** The newest version handed to `onRecords` and completed. */
  readonly version: number;
  close(): Promise<void>;
}

/**
 * Follows a log that another process (or another part of this one) writes:
 * the reader side of the embedded backend. Only complete, valid lines are
 * read, so a record being written is picked up once it is whole.
 */
export const tailFileLog = ({ dir, after, onRecords, logger, pollMs = 250 }: TailOptions): Tail => {
  const file = join(dir, LOG_FILE);
  let version = after;
  let offset = 0;
  let closed = false;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;

  const sleep = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(done, pollMs);
      function done() {
        clearTimeout(timer);
        wake = undefined;
        resolve();
      }
      wake = done;
    });

  const readNew = async (): Promise<void> => {
    const handle = await open(file, 'r').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined;
      throw error;
    });
    if (!handle) return;
    try {
      watcher ??= watch(dir, () => wake?.());
      const { size } = await handle.stat();
      if (size < offset) offset = 0; // the writer cut a torn tail that we never consumed: start over
      while (offset < size && !closed) {
        const buffer = Buffer.alloc(Math.min(size - offset, 4 * 1024 * 1024));
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
        const parsed = parseChunk(buffer.subarray(0, bytesRead));
        const fresh = parsed.records.filter((record) => record.version > version);
        if (fresh.length) {
          await onRecords(fresh);
          version = fresh.at(-1)!.version;
        }
        offset += parsed.consumed;
        if (parsed.consumed === 0) break; // a partial line: wait for the rest
      }
    } finally {
      await handle.close();
    }
  };

  const loop = (async () => {
    while (!closed) {
      try {
        await readNew();
      } catch (error) {
        logger.error({ err: error, file }, 'reading the log failed; retrying');
      }
      if (!closed) await sleep();
    }
  })();

  return {
    get version() {
      return version;
    },
    async close() {
      closed = true;
      watcher?.close();
      wake?.();
      await loop;
    },
  };
};
