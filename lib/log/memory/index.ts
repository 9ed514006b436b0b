import type { LogBackend, LogRecord, Snapshot, StreamLog, Subscription } from '../types';
import { VersionConflictError } from '../types';

interface MemoryStream {
  /** Record n is at index n - 1. */
  readonly records: LogRecord[];
  readonly snapshots: Snapshot[];
  /** Woken after every append. */
  readonly listeners: Set<() => void>;
}

const BATCH = 1000;

/** A subscription retries a batch whose handler threw after this long. */
const RETRY_MS = 50;

/**
 * Streams held in this process's memory: for tests and development without
 * disk. Several writers may open one stream, as replicas share a database
 * stream, and race by compare-and-append. Nothing survives the process.
 */
export const createMemoryBackend = (): LogBackend => {
  const streams = new Map<string, MemoryStream>();
  const streamOf = (name: string): MemoryStream => {
    let stream = streams.get(name);
    if (!stream) streams.set(name, (stream = { records: [], snapshots: [], listeners: new Set() }));
    return stream;
  };
  const inBatches = (records: LogRecord[], onRecords: (records: LogRecord[]) => void) => {
    for (let i = 0; i < records.length; i += BATCH) onRecords(records.slice(i, i + BATCH));
  };

  return {
    async openStream(name, { restore, replay }) {
      const stream = streamOf(name);
      const snapshot = stream.snapshots.at(-1);
      if (snapshot) {
        if (!restore) throw new Error(`${name}: a snapshot is there but nothing can restore it`);
        restore(snapshot);
      }
      inBatches(stream.records.slice(snapshot?.version ?? 0), replay);
      let known = stream.records.length;
      let stale = false;
      let closed = false;
      let sinceSnapshot = { records: 0, bytes: 0 };
      const mine = new WeakSet<LogRecord>();
      const log: StreamLog = {
        get version() {
          return known;
        },
        async append(record) {
          if (closed) throw new Error(`${name}: the stream is closed`);
          if (stale) throw new VersionConflictError(name, record.version);
          if (record.version <= stream.records.length) {
            stale = true;
            throw new VersionConflictError(name, record.version);
          }
          if (record.version !== stream.records.length + 1) {
            throw new Error(`${name}: append of version ${record.version} after ${stream.records.length} would leave a gap`);
          }
          stream.records.push(record);
          mine.add(record);
          known = record.version;
          sinceSnapshot = { records: sinceSnapshot.records + 1, bytes: sinceSnapshot.bytes + JSON.stringify(record).length };
          for (const listener of stream.listeners) listener();
        },
        async read(after, onRecords) {
          const records = stream.records.slice(after);
          inBatches(records, onRecords);
          known = Math.max(known, stream.records.length);
          stale = false;
          return Math.max(after, stream.records.length);
        },
        follow(after, onRecords) {
          let cursor = after;
          const listener = () =>
            queueMicrotask(() => {
              if (!stream.listeners.has(listener)) return;
              const others = stream.records.slice(cursor).filter((record) => !mine.has(record));
              cursor = stream.records.length;
              if (others.length) inBatches(others, onRecords);
            });
          stream.listeners.add(listener);
          listener();
          return { close: async () => void stream.listeners.delete(listener) };
        },
        async snapshot(version, chunks) {
          if (version > stream.records.length) throw new Error(`${name}: snapshot of version ${version}, but the stream ends at ${stream.records.length}`);
          sinceSnapshot = { records: 0, bytes: 0 };
          const parts = [...chunks];
          if (version > (stream.snapshots.at(-1)?.version ?? 0)) stream.snapshots.splice(0, stream.snapshots.length - 1, { version, chunks: parts });
        },
        get sinceSnapshot() {
          return sinceSnapshot;
        },
        async close() {
          closed = true;
        },
      };
      return log;
    },

    subscribe(name, { after, onRecords, logger }): Subscription {
      const stream = streamOf(name);
      let version = after;
      let closed = false;
      let wake: (() => void) | undefined;
      const listener = () => wake?.();
      stream.listeners.add(listener);
      const loop = (async () => {
        while (!closed) {
          const records = stream.records.slice(version, version + BATCH);
          if (records.length) {
            try {
              await onRecords(records);
              version = records.at(-1)!.version;
            } catch (error) {
              logger.error({ err: error, stream: name }, 'a subscriber failed on a batch; handing it over again');
              await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
            }
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      })();
      return {
        get version() {
          return version;
        },
        // Memory keeps every record.
        gap: undefined,
        async close() {
          closed = true;
          stream.listeners.delete(listener);
          wake?.();
          await loop;
        },
      };
    },

    head: async (name) => streamOf(name).records.length,
    readSnapshot: async (name) => streamOf(name).snapshots.at(-1),
    close: async () => undefined,
  };
};
