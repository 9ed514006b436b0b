import type { Logger } from 'pino';
import { createPool, databaseUnreachable, KEEPALIVE_AFTER_MS, redactUrl } from '../../postgres';
import type { LogBackend } from '../types';
import { startFollower } from './follower';
import { startNotifier } from './notifier';
import { DEFAULT_PRUNE_POLICY, type PrunePolicy } from './prune';
import { migrateLog } from './schema';
import { loadNewestSnapshot } from './snapshots';
import { openPostgresStream } from './stream';

export interface PostgresBackendOptions {
  /** `postgres://user:password@host:port/database` */
  readonly url: string;
  readonly logger: Logger;
  /** How often followers query for records whose notification never came. */
  readonly pollMs?: number;
  /** Connecting, and each statement, give up after this long: commands fail quickly while the database is away. */
  readonly timeoutMs?: number;
  /** Connections of this service's pool. */
  readonly maxConnections?: number;
  /** How records nothing needs any more are deleted (defaults: `DEFAULT_PRUNE_POLICY`). */
  readonly prune?: PrunePolicy;
}

/**
 * The PostgreSQL backend: the streams of every service in one table keyed by
 * (stream, version), so that replicas share one state. Creates its tables at
 * start; refuses to start when the database cannot be reached.
 */
export const openPostgresBackend = async ({
  url,
  logger,
  pollMs = 1_000,
  timeoutMs = 5_000,
  maxConnections = 10,
  prune = DEFAULT_PRUNE_POLICY,
}: PostgresBackendOptions): Promise<LogBackend> => {
  const pool = createPool({ url, logger, timeoutMs, maxConnections });
  try {
    await migrateLog(pool);
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw databaseUnreachable(url, error, 'use the embedded log under DATA_DIR');
  }
  // The listening connection idles for long: keepalive tells a dead one from a quiet one.
  const notifier = startNotifier({ connectionString: url, connectionTimeoutMillis: timeoutMs, keepAlive: true, keepAliveInitialDelayMillis: KEEPALIVE_AFTER_MS }, logger);
  logger.info({ database: redactUrl(url) }, 'log backend: PostgreSQL');

  return {
    openStream: (name, options) => openPostgresStream({ ...options, pool, notifier, name, pollMs, prune }),
    subscribe: (name, { after, consumer, consumed, onRecords, logger: subscriberLogger }) =>
      // The cursor lives in the consumer's own state; `log_readers` only tells pruning how far it got.
      startFollower({ pool, notifier, stream: name, after, onRecords, logger: subscriberLogger, pollMs, consumer, consumed }),
    async head(name) {
      const { rows } = await pool.query<{ head: string }>(
        'SELECT coalesce(max(version), 0) AS head FROM log_records WHERE stream = $1',
        [name],
      );
      return Number(rows[0]?.head ?? 0);
    },
    readSnapshot: (name) => loadNewestSnapshot(pool, name),
    async close() {
      await notifier.close();
      await pool.end();
    },
  };
};
