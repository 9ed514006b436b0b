import type { Logger } from 'pino';
import { createFileBackend } from './file';
import { openPostgresBackend } from './postgres';
import type { LogBackend } from './types';

export interface LogBackendConfig {
  /** Set: the PostgreSQL backend, shared by replicas. */
  readonly DATABASE_URL?: string | undefined;
  /** Otherwise the embedded backend keeps its files here. */
  readonly DATA_DIR: string;
  /** `off`: the embedded log skips fsync (benchmarks only). */
  readonly LOG_FSYNC?: 'on' | 'off';
  /** Connections of the PostgreSQL backend's pool. */
  readonly DATABASE_POOL_SIZE?: number;
}

/** The backend a service runs on: PostgreSQL when `DATABASE_URL` is set, else files under `DATA_DIR`. */
export const openLogBackend = async ({ DATABASE_URL, DATA_DIR, LOG_FSYNC, DATABASE_POOL_SIZE }: LogBackendConfig, logger: Logger): Promise<LogBackend> =>
  DATABASE_URL
    ? openPostgresBackend({ url: DATABASE_URL, logger, ...(DATABASE_POOL_SIZE === undefined ? {} : { maxConnections: DATABASE_POOL_SIZE }) })
    : createFileBackend({ dataDir: DATA_DIR, fsync: LOG_FSYNC !== 'off' });
