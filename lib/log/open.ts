import type { Logger } from 'pino';
import { createFileBackend } from './file';
import type { LogBackend } from './types';

export interface LogBackendConfig {
  /** Set: the PostgreSQL backend, shared by replicas. */
  readonly DATABASE_URL?: string | undefined;
  /** Otherwise the embedded backend keeps its files here. */
  readonly DATA_DIR: string;
}

/** The backend a service runs on: PostgreSQL when `DATABASE_URL` is set, else files under `DATA_DIR`. */
export const openLogBackend = async ({ DATA_DIR }: LogBackendConfig, logger: Logger): Promise<LogBackend> => {
  logger.debug({ dataDir: DATA_DIR }, 'log backend: files');
  return createFileBackend({ dataDir: DATA_DIR });
};
