import { join } from 'node:path';

export { openFileLog, LogCorruptError, type AppendLog, type OpenFileLogOptions } from './file-log';
export { tailFileLog, type Tail, type TailOptions } from './tail';
export { acknowledge } from './consumers';
export { readLogHead } from './read';
export { listSegments, listSnapshots, segmentFile } from './files';
export { LogLockedError } from './lock';
export type { LogRecord } from './record';

/** Where the embedded backend keeps the log of `stream` (a service name). */
export const streamDir = (dataDir: string, stream: string): string => join(dataDir, stream);
