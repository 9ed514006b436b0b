import { Pool, type PoolClient } from 'pg';
import type { Logger } from 'pino';

/** `url` without its password, fit for logs and error messages. */
export const redactUrl = (url: string): string => {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparsable URL)';
  }
};

export class DatabaseUnreachableError extends Error {
  override readonly name = 'DatabaseUnreachableError';
}

/** PostgreSQL refused a connection because it has as many as it allows (`max_connections`, or the role's limit). */
const TOO_MANY_CONNECTIONS = '53300';

/** The error a service refuses to start with when the database at `url` cannot be used. */
export const databaseUnreachable = (url: string, error: unknown, fallback: string) =>
  new DatabaseUnreachableError(
    `cannot use the database at DATABASE_URL=${redactUrl(url)}: ${(error as Error).message}. ` +
      ((error as { code?: unknown }).code === TOO_MANY_CONNECTIONS
        ? 'PostgreSQL has all the connections it allows (max_connections, or the role\'s CONNECTION LIMIT): each subgraph replica ' +
          'takes DATABASE_POOL_SIZE + 1 and each gateway 4; lower DATABASE_POOL_SIZE, run fewer replicas, or raise the limit'
        : `Check that PostgreSQL runs there and accepts this user, or unset DATABASE_URL to ${fallback}`),
    { cause: error },
  );

export interface PoolOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Connecting, and each statement, give up after this long: requests fail quickly while the database is away. */
  readonly timeoutMs?: number;
  readonly maxConnections?: number;
  /** The server ends a session left idle inside a transaction this long, releasing its locks. */
  readonly idleInTransactionMs?: number;
}

/**
 * TCP keepalive on every connection, after this much silence: a connection whose peer is gone (a half-open
 * socket after a network fault) fails within a minute instead of the kernel's two hours.
 */
export const KEEPALIVE_AFTER_MS = 10_000;

/**
 * How much longer the client waits for a statement than the server lets it run. The server cancels first
 * (and rolls the statement back), so a timeout the caller sees means "not done", never "maybe done".
 */
export const CLIENT_TIMEOUT_MARGIN_MS = 1_000;

/** A pool that fails fast while the database is away and survives its restarts. */
export const createPool = ({ url, logger, timeoutMs = 5_000, maxConnections = 10, idleInTransactionMs = 60_000 }: PoolOptions): Pool => {
  const pool = new Pool({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
    statement_timeout: timeoutMs,
    // A client that vanished mid-transaction (a snapshot holds an advisory lock) must not hold its locks for good.
    idle_in_transaction_session_timeout: idleInTransactionMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: KEEPALIVE_AFTER_MS,
    max: maxConnections,
  });
  // An idle connection dropped by a database restart must not take the process down; the next query reconnects.
  pool.on('error', (error) => logger.warn({ err: error }, 'an idle database connection failed'));
  return pool;
};

/**
 * Runs `work` on one connection between `begin` (`BEGIN` and its options) and `COMMIT`. A connection
 * that failed mid-transaction is not handed out again: its transaction ends with it.
 */
export const inTransaction = async <T>(pool: Pool, work: (client: PoolClient) => Promise<T>, begin = 'BEGIN'): Promise<T> => {
  const client = await pool.connect();
  try {
    await client.query(begin);
    const result = await work(client);
    await client.query('COMMIT');
    client.release();
    return result;
  } catch (error) {
    client.release(error as Error);
    throw error;
  }
};

/**
 * Runs `statements` (each `CREATE … IF NOT EXISTS`) in one transaction under the advisory lock `lock`:
 * processes starting together take turns, since PostgreSQL's own `IF NOT EXISTS` races
 * (42P07, 42710, 23505 when two create the same table at once).
 */
export const migrate = (pool: Pool, lock: number, statements: readonly string[]): Promise<void> =>
  inTransaction(pool, async (client) => {
    await client.query('SELECT pg_advisory_xact_lock($1)', [lock]);
    for (const statement of statements) await client.query(statement);
  });
