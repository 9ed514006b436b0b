import { Pool } from 'pg';
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

/** The error a service refuses to start with when the database at `url` cannot be used. */
export const databaseUnreachable = (url: string, error: unknown, fallback: string) =>
  new DatabaseUnreachableError(
    `cannot use the database at DATABASE_URL=${redactUrl(url)}: ${(error as Error).message}. ` +
      `Check that PostgreSQL runs there and accepts this user, or unset DATABASE_URL to ${fallback}`,
    { cause: error },
  );

export interface PoolOptions {
  readonly url: string;
  readonly logger: Logger;
  /** Connecting, and each statement, give up after this long: requests fail quickly while the database is away. */
  readonly timeoutMs?: number;
  readonly maxConnections?: number;
}

/**
 * How much longer the client waits for a statement than the server lets it run. The server cancels first
 * (and rolls the statement back), so a timeout the caller sees means "not done", never "maybe done".
 */
export const CLIENT_TIMEOUT_MARGIN_MS = 1_000;

/** A pool that fails fast while the database is away and survives its restarts. */
export const createPool = ({ url, logger, timeoutMs = 5_000, maxConnections = 10 }: PoolOptions): Pool => {
  const pool = new Pool({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs + CLIENT_TIMEOUT_MARGIN_MS,
    statement_timeout: timeoutMs,
    max: maxConnections,
  });
  // An idle connection dropped by a database restart must not take the process down; the next query reconnects.
  pool.on('error', (error) => logger.warn({ err: error }, 'an idle database connection failed'));
  return pool;
};
