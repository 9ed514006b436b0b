import type { Pool, PoolClient } from 'pg';
import type { Logger } from 'pino';
import { CLIENT_TIMEOUT_MARGIN_MS } from '../../postgres';
import type { Snapshot } from '../types';

// A snapshot of a large state is one big row: it gets minutes where records get seconds.
const SNAPSHOT_TIMEOUT_MS = 5 * 60_000;

/** Runs `work` in a transaction whose statements may take `SNAPSHOT_TIMEOUT_MS`. */
const inLongTransaction = async <T>(pool: Pool, work: (query: PoolClient['query']) => Promise<T>): Promise<T> => {
  const client = await pool.connect();
  const query = ((text: string, values?: unknown[]) =>
    client.query({ text, values, query_timeout: SNAPSHOT_TIMEOUT_MS + CLIENT_TIMEOUT_MARGIN_MS } as { text: string; values?: unknown[] })) as PoolClient['query'];
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL statement_timeout = ${SNAPSHOT_TIMEOUT_MS}`);
    const result = await work(query);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    // A connection that failed mid-transaction is not handed out again.
    client.release(error as Error);
    throw error;
  }
};

/** The newest snapshot of `stream`, if any. */
export const loadNewestSnapshot = (pool: Pool, stream: string): Promise<Snapshot | undefined> =>
  inLongTransaction(pool, async (query) => {
    const { rows } = await query<{ version: string; body: string }>(
      'SELECT version, body FROM log_snapshots WHERE stream = $1 ORDER BY version DESC LIMIT 1',
      [stream],
    );
    return rows[0] && { version: Number(rows[0].version), body: rows[0].body };
  });

/**
 * Stores the snapshot at `version` unless a newer one is there, keeping the
 * two newest. One replica at a time: the others skip theirs.
 */
export const storeSnapshot = async (pool: Pool, stream: string, version: number, chunks: Iterable<string>, logger: Logger): Promise<void> => {
  const parts: string[] = [];
  for (const chunk of chunks) {
    parts.push(chunk);
    // The state is immutable: encoding it across turns lets requests through meanwhile.
    await new Promise((resolve) => setImmediate(resolve));
  }
  const started = performance.now();
  const written = await inLongTransaction(pool, async (query) => {
    const { rows } = await query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext('log_snapshots:' || $1)) AS locked", [stream]);
    if (!rows[0]?.locked) return false;
    await query(
      `INSERT INTO log_snapshots (stream, version, body) SELECT $1, $2, $3
       WHERE $2 > (SELECT coalesce(max(version), 0) FROM log_snapshots WHERE stream = $1)`,
      [stream, version, parts.join('')],
    );
    // The newest is what a new replica loads; the one before it is a spare should the newest be unreadable.
    await query(
      `DELETE FROM log_snapshots WHERE stream = $1 AND version < (
         SELECT min(version) FROM (SELECT version FROM log_snapshots WHERE stream = $1 ORDER BY version DESC LIMIT 2) AS kept)`,
      [stream],
    );
    return true;
  });
  if (written) logger.info({ stream, version, ms: Math.round(performance.now() - started) }, 'snapshot written');
  else logger.info({ stream, version }, 'another replica is writing a snapshot; skipping this one');
};
