import type { Pool } from 'pg';
import { LogUnavailableError, VersionConflictError, type LogRecord, type OpenStreamOptions, type StreamLog } from '../types';
import { startFollower } from './follower';
import type { Notifier } from './notifier';
import { CHANNEL, encode, readAll } from './records';
import { pruneRecords, type PrunePolicy } from './prune';
import { loadNewestSnapshot, storeSnapshot } from './snapshots';

export interface PostgresStreamOptions extends OpenStreamOptions {
  readonly pool: Pool;
  readonly notifier: Notifier;
  readonly name: string;
  readonly pollMs: number;
  readonly prune: PrunePolicy;
}

/** Records per INSERT: a longer queue goes out in several statements. */
const MAX_BATCH = 1000;

// One statement, so one implicit transaction: the records and their notification commit together.
const APPEND = `
  WITH inserted AS (
    INSERT INTO log_records (stream, version, record)
    SELECT $1, version, record FROM unnest($2::bigint[], $3::text[]) AS batch(version, record)
    RETURNING version
  )
  SELECT pg_notify('${CHANNEL}', $1 || ':' || (SELECT max(version) FROM inserted))`;

const isUniqueViolation = (error: unknown) => (error as { code?: unknown }).code === '23505';

/** Opens `name` for writing: the newest snapshot, the records after it, then compare-and-appends with group commit. */
export const openPostgresStream = async ({
  pool,
  notifier,
  name,
  logger,
  readers = [],
  restore,
  replay,
  pollMs,
  prune,
}: PostgresStreamOptions): Promise<StreamLog> => {
  const snapshot = await loadNewestSnapshot(pool, name);
  let known = 0;
  if (snapshot) {
    if (!restore) throw new Error(`${name}: a snapshot is there but nothing can restore it`);
    restore(snapshot);
    known = snapshot.version;
  }
  known = await readAll(pool, name, known, replay);

  const queued: { record: LogRecord; line: string; done: (error?: Error) => void }[] = [];
  let flushing: Promise<void> | undefined;
  // Set when an append failed: later appends were decided on a state that may be stale, and are refused
  // with the error this makes, until the writer reads.
  let refusal: ((version: number) => Error) | undefined;
  let closed = false;
  let sinceSnapshot = { records: 0, bytes: 0 };
  // Versions this writer sent, while it follows the stream: the follower skips them.
  const mine = new Set<number>();
  let following = 0;

  const flush = async () => {
    while (queued.length) {
      const batch = queued.splice(0, MAX_BATCH);
      const versions = batch.map((entry) => entry.record.version);
      if (following) for (const version of versions) mine.add(version);
      try {
        await pool.query(APPEND, [name, versions, batch.map((entry) => entry.line)]);
        known = Math.max(known, versions.at(-1)!);
        for (const entry of batch) entry.done();
      } catch (error) {
        for (const version of versions) mine.delete(version);
        refusal = isUniqueViolation(error)
          ? (version) => new VersionConflictError(name, version)
          : (version) =>
              new LogUnavailableError(`${name}: the database did not confirm the append of version ${version}: ${(error as Error).message}`, {
                cause: error,
              });
        for (const entry of [...batch, ...queued.splice(0)]) entry.done(refusal(entry.record.version));
      }
    }
    flushing = undefined;
  };

  let pruning: Promise<unknown> | undefined;
  const pruneSoon = () => {
    pruning ??= pruneRecords(pool, name, readers, prune.batch, logger)
      .catch((error: unknown) => logger.warn({ err: error, stream: name }, 'pruning the log failed; the next run tries again'))
      .finally(() => {
        pruning = undefined;
      });
  };
  const pruneTimer = setInterval(pruneSoon, prune.everyMs);
  pruneTimer.unref();

  return {
    get version() {
      return known;
    },
    append(record) {
      if (closed) return Promise.reject(new Error(`${name}: the stream is closed`));
      if (refusal) return Promise.reject(refusal(record.version));
      const line = encode(record);
      sinceSnapshot = { records: sinceSnapshot.records + 1, bytes: sinceSnapshot.bytes + line.length };
      return new Promise<void>((resolve, reject) => {
        queued.push({ record, line, done: (error) => (error ? reject(error) : resolve()) });
        flushing ??= flush();
      });
    },
    async read(after, onRecords) {
      const version = await readAll(pool, name, after, onRecords).catch((error: unknown) => {
        throw new LogUnavailableError(`${name}: cannot read the stream: ${(error as Error).message}`, { cause: error });
      });
      known = Math.max(known, version);
      refusal = undefined;
      return version;
    },
    follow(after, onRecords) {
      following++;
      const follower = startFollower({
        pool,
        notifier,
        stream: name,
        after,
        logger,
        pollMs,
        onRecords: (records) => {
          const others = records.filter((record) => !mine.delete(record.version));
          if (others.length) onRecords(others);
        },
      });
      return {
        close: async () => {
          following--;
          await follower.close();
        },
      };
    },
    async snapshot(version, chunks) {
      sinceSnapshot = { records: 0, bytes: 0 };
      await storeSnapshot(pool, name, version, chunks, logger);
      pruneSoon();
    },
    get sinceSnapshot() {
      return sinceSnapshot;
    },
    async close() {
      closed = true;
      clearInterval(pruneTimer);
      await Promise.all([flushing, pruning]);
    },
  };
};
