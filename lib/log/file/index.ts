import { join } from 'node:path';
import type { LogBackend } from '../types';
import { acknowledge } from './consumers';
import { openFileLog } from './file-log';
import { readLogHead } from './read';
import { tailFileLog, type Tail } from './tail';

export { openFileLog, LogCorruptError, type OpenFileLogOptions } from './file-log';
export { tailFileLog, type Tail, type TailOptions } from './tail';
export { acknowledge } from './consumers';
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
}

/** Where the embedded backend keeps the log of `stream` (a service name). */
export const streamDir = (dataDir: string, stream: string): string => join(dataDir, stream);

/**
 * The embedded backend: one folder per stream, one writer per stream (a lock
 * file), readers in other processes tailing the files. A subscriber's
 * acknowledgement file keeps the segments it has yet to read.
 */
export const createFileBackend = ({ dataDir, syncEachRecord = false, pollMs }: FileBackendOptions): LogBackend => ({
  openStream: (name, options) => openFileLog({ ...options, dir: streamDir(dataDir, name), syncEachRecord }),
  subscribe(name, { after, consumer, onRecords, logger }) {
    const dir = streamDir(dataDir, name);
    let tail: Tail | undefined;
    let closed = false;
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
          onRecords: async (records) => {
            await onRecords(records);
            await acknowledge(dir, consumer, records.at(-1)!.version);
          },
        });
      });
    return {
      get version() {
        return tail?.version ?? after;
      },
      async close() {
        closed = true;
        await started;
        await tail?.close();
      },
    };
  },
  head: (name) => readLogHead(streamDir(dataDir, name)),
  close: async () => undefined,
});
