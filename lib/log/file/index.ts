import { join } from 'node:path';
import type { LogBackend } from '../types';
import { acknowledge } from './acknowledgements';
import { openFileLog } from './file-log';
import { readNewestSnapshot } from './snapshot';
import { readLogHead } from './read';
import { tailFileLog, type Tail } from './tail';

export { openFileLog, LogCorruptError, type OpenFileLogOptions } from './file-log';
export { tailFileLog, type Tail, type TailOptions } from './tail';
export { acknowledge } from './acknowledgements';
export { readLogHead } from './read';
export { listSegments, listSnapshots, segmentFile } from './files';
export { writeSnapshot } from './snapshot';
export { encodeRecord } from './record';
export { LogLockedError } from './lock';

export interface FileBackendOptions {
  /** Each stream lives in `<dataDir>/<stream>/`. */
  readonly dataDir: string;
  /** One fsync per record instead of group commit: only to measure what group commit saves. */
  readonly syncEachRecord?: boolean;
  /** Fallback poll interval of subscriptions, for file systems where change events are unreliable. */
  readonly pollMs?: number;
  /** False: records are written but never fsync'd. Benchmarks only (the cost of durability): `LOG_FSYNC`. */
  readonly fsync?: boolean;
}

/** How long a reader's acknowledgement may lag behind what it has durably consumed. */
export const ACK_EVERY_MS = 1_000;

/** Where the embedded backend keeps the log of `stream` (a service name). */
export const streamDir = (dataDir: string, stream: string): string => join(dataDir, stream);

/**
 * The embedded backend: one folder per stream, one writer per stream (a lock
 * file), readers in other processes tailing the files. A declared reader's
 * acknowledgement file keeps the segments it has yet to read.
 */
export const createFileBackend = ({ dataDir, syncEachRecord = false, pollMs, fsync = true }: FileBackendOptions): LogBackend => ({
  openStream: (name, options) => openFileLog({ ...options, dir: streamDir(dataDir, name), syncEachRecord, fsync }),
  subscribe(name, { after, consumer, onRecords, logger }) {
    const dir = streamDir(dataDir, name);
    let tail: Tail | undefined;
    let closed = false;
    // An acknowledgement only lets the writer drop old segments, so a late one is always safe: at most one
    // a second (and one at close) instead of a file write and rename per batch of records.
    let acknowledged = after;
    let consumed = after;
    let pending: NodeJS.Timeout | undefined;
    let writing: Promise<void> = Promise.resolve();
    const flushAck = () => {
      pending = undefined;
      if (consumed === acknowledged) return writing;
      const version = consumed;
      acknowledged = version;
      writing = writing
        .then(() => acknowledge(dir, consumer, version))
        .catch((error: unknown) => {
          acknowledged = -1;
          logger.warn({ err: error, dir, consumer }, 'acknowledging the log failed; will retry');
        });
      return writing;
    };
    // Registered before the first read, so that the writer drops no segment this reader still needs.
    const started = acknowledge(dir, consumer, after)
      .catch((error: unknown) => logger.error({ err: error, dir, consumer }, 'cannot register this reader; the writer may drop segments it needs'))
      .then(() => {
        if (closed) return;
        tail = tailFileLog({
          dir,
          after,
          logger,
          ...(pollMs === undefined ? {} : { pollMs }),
          // Under load a stream is appended every few milliseconds: read it in batches, not once per append.
          settleMs: 20,
          onRecords: async (records) => {
            await onRecords(records);
            consumed = records.at(-1)!.version;
            pending ??= setTimeout(flushAck, ACK_EVERY_MS).unref();
          },
        });
      });
    return {
      get version() {
        return tail?.version ?? after;
      },
      get gap() {
        return tail?.gap;
      },
      async close() {
        closed = true;
        await started;
        await tail?.close();
        clearTimeout(pending);
        await flushAck();
      },
    };
  },
  head: (name) => readLogHead(streamDir(dataDir, name)),
  async readSnapshot(name, logger) {
    const snapshot = await readNewestSnapshot(streamDir(dataDir, name), logger);
    return snapshot && { version: snapshot.version, chunks: snapshot.chunks };
  },
  close: async () => undefined,
});
