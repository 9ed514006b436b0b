import { watch, type FSWatcher } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import { basename } from 'node:path';
import type { Logger } from 'pino';
import { listSegments } from './files';
import { readSegment } from './read';
import { LogGapError, type LogRecord } from '../types';

export interface TailOptions {
  readonly dir: string;
  /** Records up to and including this version are skipped. */
  readonly after: number;
  /** Called with each batch of new records, in order; the next batch waits for it. A throw retries the batch. */
  readonly onRecords: (records: LogRecord[]) => Promise<void>;
  readonly logger: Logger;
  /** Fallback poll interval for file systems where change events are unreliable. */
  readonly pollMs?: number;
  /**
   * How long to wait after a change event before reading: changes that come
   * meanwhile are read in the same batch. 0 reads at once; a busy writer then
   * wakes the reader once per append.
   */
  readonly settleMs?: number;
}

export interface Tail {
  /** The newest version handed to `onRecords` and completed. */
  readonly version: number;
  /** Set when records after `version` are gone: the tail stops there. */
  readonly gap: LogGapError | undefined;
  close(): Promise<void>;
}

/**
 * Follows a log that another process (or another part of this one) writes:
 * the reader side of the embedded backend. Only complete, valid lines are
 * read, so a record being written is picked up once it is whole.
 */
export const tailFileLog = ({ dir, after, onRecords, logger, pollMs = 250, settleMs = 0 }: TailOptions): Tail => {
  let version = after;
  let current: { file: string; offset: number } | undefined;
  let closed = false;
  let wake: (() => void) | undefined;
  let watcher: FSWatcher | undefined;
  let gap: LogGapError | undefined;

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

  /** Reads `file` from `offset` to its end; returns the offset after the last complete record. */
  const readFrom = async (file: string, offset: number): Promise<number> => {
    const handle = await open(file, 'r');
    try {
      const { size } = await handle.stat();
      if (size < offset) offset = 0; // the writer cut a torn tail: read again, versions filter repeats
      for await (const chunk of readSegment(handle, offset)) {
        if (closed) break;
        const fresh = chunk.records.filter((record) => record.version > version);
        if (fresh.length) {
          await onRecords(fresh);
          version = fresh.at(-1)!.version;
        }
        offset = chunk.end;
      }
      return offset;
    } finally {
      await handle.close();
    }
  };

  const readNew = async (): Promise<void> => {
    // List first: a segment that has a successor in this listing is complete.
    const segments = await listSegments(dir);
    if (!segments.length) return;
    if (!current || !segments.some((segment) => segment.file === current!.file)) {
      const start = segments.findLast((segment) => segment.first <= version + 1) ?? segments[0]!;
      if (start.first > version + 1) throw new LogGapError(basename(dir), version, start.first);
      current = { file: start.file, offset: 0 };
    }
    for (;;) {
      current.offset = await readFrom(current.file, current.offset);
      const successor = segments[segments.findIndex((segment) => segment.file === current!.file) + 1];
      if (!successor || closed) return;
      current = { file: successor.file, offset: 0 };
    }
  };

  const loop = (async () => {
    await mkdir(dir, { recursive: true }).catch(() => undefined);
    try {
      let settling: NodeJS.Timeout | undefined;
      watcher = watch(dir, () => {
        if (!settleMs) return wake?.();
        settling ??= setTimeout(() => {
          settling = undefined;
          wake?.();
        }, settleMs);
      });
    } catch (error) {
      logger.warn({ err: error, dir }, 'cannot watch the log folder; polling only');
    }
    while (!closed) {
      try {
        await readNew();
      } catch (error) {
        if (error instanceof LogGapError) {
          gap = error;
          logger.error({ dir, after: error.after, first: error.first }, `${error.message}: reading stops here`);
          break;
        }
        current = undefined;
        logger.error({ err: error, dir }, 'reading the log failed; retrying');
      }
      if (!closed) await sleep();
    }
  })();

  return {
    get version() {
      return version;
    },
    get gap() {
      return gap;
    },
    async close() {
      closed = true;
      watcher?.close();
      wake?.();
      await loop;
    },
  };
};
