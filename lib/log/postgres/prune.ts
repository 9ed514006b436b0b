import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { inTransaction } from '../../postgres';

export interface PrunePolicy {
  /** How often a writer looks for records to prune (and right after each snapshot it writes). */
  readonly everyMs: number;
  /** Records deleted at most per run: a long backlog goes over several runs, none holding the table long. */
  readonly batch: number;
}

export const DEFAULT_PRUNE_POLICY: PrunePolicy = { everyMs: 60_000, batch: 10_000 };

/**
 * How far `stream` may be pruned: through the older of its two newest snapshots (the spare, so a
 * damaged newest snapshot still has its records) and no further than every declared reader has
 * consumed (0 for one that never ran). 0: nothing.
 */
const pruneLimit = async (pool: Pool, stream: string, readers: readonly string[]): Promise<number> => {
  const spare = await pool.query<{ version: string }>(
    'SELECT DISTINCT version FROM log_snapshots WHERE stream = $1 ORDER BY version DESC OFFSET 1 LIMIT 1',
    [stream],
  );
  let limit = Number(spare.rows[0]?.version ?? 0);
  if (limit > 0 && readers.length) {
    const { rows } = await pool.query<{ reader: string; version: string }>(
      'SELECT reader, version FROM log_readers WHERE stream = $1 AND reader = ANY($2)',
      [stream, readers],
    );
    const consumed = new Map(rows.map((row) => [row.reader, Number(row.version)]));
    for (const reader of readers) limit = Math.min(limit, consumed.get(reader) ?? 0);
  }
  return limit;
};

/** Deletes up to `batch` records of `stream` that nothing needs any more; resolves with how many. One replica at a time. */
export const pruneRecords = async (pool: Pool, stream: string, readers: readonly string[], batch: number, logger: Logger): Promise<number> => {
  const limit = await pruneLimit(pool, stream, readers);
  if (limit <= 0) return 0;
  const deleted = await inTransaction(pool, async (client) => {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock(hashtext('log_prune:' || $1)) AS locked", [stream]);
    if (!rows[0]?.locked) return 0;
    const { rowCount } = await client.query(
      `DELETE FROM log_records WHERE stream = $1 AND version IN (
         SELECT version FROM log_records WHERE stream = $1 AND version <= $2 ORDER BY version LIMIT $3)`,
      [stream, limit, batch],
    );
    return rowCount ?? 0;
  });
  if (deleted) logger.info({ stream, through: limit, deleted }, 'log records pruned');
  return deleted;
};
