export {
  VersionConflictError,
  LogUnavailableError,
  LogGapError,
  type LogBackend,
  type LogRecord,
  type OpenStreamOptions,
  type Snapshot,
  type StreamLog,
  type SubscribeOptions,
  type Subscription,
  type Closable,
} from './types';
export { createFileBackend, type FileBackendOptions } from './file';
export { createMemoryBackend } from './memory';
export { openLogBackend, type LogBackendConfig } from './open';
export { openPostgresBackend, type PostgresBackendOptions } from './postgres';
