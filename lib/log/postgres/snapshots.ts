import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { CLIENT_TIMEOUT_MARGIN_MS, inTransaction } from '../../postgres';
import type { Snapshot } from '../types';

// A snapshot of a large state is many rows: it gets minutes where records get seconds.
const SNAPSHOT_TIMEOUT_MS = 5 * 60_000;
/** Parts go into one INSERT until they reach this many bytes; parts are read this many at a time. */
const INSERT_BYTES = 16 * 2 ** 20;
const READ_PARTS = 16;

/** Runs `work` in a transaction whose statements may take `SNAPSHOT_TIMEOUT_MS`. */
const inLongTransaction = <T>(pool: Pool, begin: string, work: (query: PoolClient['query']) => Promise<T>): Promise<T> =>
  inTransaction(
    pool,
    async (client) => {
      await client.query(`SET LOCAL statement_timeout = ${SNAPSHOT_TIMEOUT_MS}`);
      const query = ((text: string, values?: unknown[]) =>
        client.query({ text, values, query_timeout: SNAPSHOT_TIMEOUT_MS + CLIENT_TIMEOUT_MARGIN_MS } as { text: string; values?: unknown[] })) as PoolClient['query'];
      return work(query);
    },
    begin,
  );

/** The newest snapshot of `stream`, if any: its parts read a few at a time, in one consistent view. */
export const loadNewestSnapshot = (pool: Pool, stream: string): Promise<Snapshot | undefined> =>
  inLongTransaction(pool, 'BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY', async (query) => {
    const newest = await query<{ version: string }>('SELECT max(version) AS version FROM log_snapshots WHERE stream = $1', [stream]);
    if (newest.rows[0]?.version == null) return undefined;
    const version = newest.rows[0].version;
    const chunks: string[] = [];
    for (;;) {
      const { rows } = await query<{ body: string }>(
        'SELECT body FROM log_snapshots WHERE stream = $1 AND version = $2 ORDER BY part OFFSET $3 LIMIT $4',
        [stream, version, chunks.length, READ_PARTS],
      );
      for (const row of rows) chunks.push(row.body);
      if (rows.length < READ_PARTS) return { version: Number(version), chunks };
    }
  });

/** `parts` in runs of at most `INSERT_BYTES` (one part alone may be more). */
const insertRuns = function* (parts: readonly string[]): Generator<[first: number, parts: string[]]> {
  let first = 0;
  while (first < parts.length) {
    let bytes = 0;
    let end = first;
    while (end < parts.length && (end === first || bytes + parts[end]!.length <= INSERT_BYTES)) bytes += parts[end++]!.length;
    yield [first, parts.slice(first, end)];
    first = end;
  }
};

/**
 * Stores the snapshot at `version`, one row per chunk, unless a newer one is
 * there, keeping the two newest. One replica at a time: the others skip theirs.
 */
export const storeSnapshot = async (pool: Pool, stream: string, version: number, chunks: Iterable<string>, logger: Logger): Promise<void> => {
  const parts: string[] = [];
  for (const chunk of chunks) {
    parts.push(chunk);
    // The state is immutable: encoding it across turns lets requests through meanwhile.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const started = performance.now();
  const written = await inLongTransaction(pool, 'BEGIN', async (query) => {
    const { rows } = await query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext('log_snapshots:' || $1)) AS locked", [stream]);
    if (!rows[0]?.locked) return 'locked';
    const newest = await query<{ version: string | null }>('SELECT max(version) AS version FROM log_snapshots WHERE stream = $1', [stream]);
    if (Number(newest.rows[0]?.version ?? 0) >= version) return 'stale';
    for (const [first, run] of insertRuns(parts)) {
      await query(
        'INSERT INTO log_snapshots (stream, version, part, body) SELECT $1, $2, $3::int + n::int - 1, body FROM unnest($4::text[]) WITH ORDINALITY AS p(body, n)',
        [stream, version, first, run],
      );
    }
    // The newest is what a new replica loads; the one before it is a spare should the newest be unreadable.
    await query(
      `DELETE FROM log_snapshots WHERE stream = $1 AND version < (
         SELECT min(version) FROM (SELECT DISTINCT version FROM log_snapshots WHERE stream = $1 ORDER BY version DESC LIMIT 2) AS kept)`,
      [stream],
    );
    return 'written';
  });
  if (written === 'written') logger.info({ stream, version, parts: parts.length, ms: Math.round(performance.now() - started) }, 'snapshot written');
  else if (written === 'locked') logger.info({ stream, version }, 'another replica is writing a snapshot; skipping this one');
};
