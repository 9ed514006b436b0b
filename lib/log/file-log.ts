import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { acquireLock } from './lock';
import { encodeRecord, parseChunk, type LogRecord } from './record';

export const LOG_FILE = 'records.log';
const READ_CHUNK = 8 * 1024 * 1024;

export class LogCorruptError extends Error {
  override readonly name = 'LogCorruptError';
}

export interface AppendLog {
  /** The newest durable version: 0 for an empty log. */
  readonly version: number;
  /** Appends the record for version `this.version + pending + 1`; resolves once it is on disk. */
  append(record: LogRecord): Promise<void>;
  close(): Promise<void>;
}

export interface OpenFileLogOptions {
  readonly dir: string;
  readonly logger: Logger;
  /** Receives the existing records in order, in batches, before `openFileLog` resolves. */
  readonly replay: (records: LogRecord[]) => void;
}

/**
 * Reads records from `handle` in chunks and hands each chunk's records to
 * `onRecords`. Returns the byte length of the valid prefix and, when the file
 * goes on past it, why the first bad line is bad.
 */
export const scanLog = async (
  handle: FileHandle,
  onRecords: (records: LogRecord[]) => void,
): Promise<{ validBytes: number; fileBytes: number; bad?: string }> => {
  const { size } = await handle.stat();
  let carry = Buffer.alloc(0);
  let position = 0;
  let validBytes = 0;
  while (position < size) {
    const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - position));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) break;
    position += bytesRead;
    const chunk = carry.length ? Buffer.concat([carry, buffer.subarray(0, bytesRead)]) : buffer.subarray(0, bytesRead);
    const parsed = parseChunk(chunk);
    if (parsed.records.length) onRecords(parsed.records);
    validBytes += parsed.consumed;
    if (parsed.bad) return { validBytes, fileBytes: size, bad: parsed.bad.reason };
    carry = Buffer.from(chunk.subarray(parsed.consumed));
  }
  return { validBytes, fileBytes: size, ...(carry.length ? { bad: 'incomplete last line' } : {}) };
};

/** True when some complete line after `offset` is a valid record: the damage is not just a torn tail. */
const hasValidLineAfter = async (handle: FileHandle, offset: number): Promise<boolean> => {
  const { size } = await handle.stat();
  const rest = Buffer.alloc(size - offset);
  await handle.read(rest, 0, rest.length, offset);
  const firstNewline = rest.indexOf(0x0a);
  if (firstNewline === -1) return false;
  for (const line of rest.subarray(firstNewline + 1).toString('utf8').split('\n')) {
    if (parseChunk(Buffer.from(`${line}\n`)).records.length) return true;
  }
  return false;
};

/**
 * Opens the append-only log in `dir` as its one writer: replays what is there,
 * cuts off a torn last record, and appends with group commit (records that
 * arrive while an fsync runs share the next one).
 */
export const openFileLog = async ({ dir, logger, replay }: OpenFileLogOptions): Promise<AppendLog> => {
  await mkdir(dir, { recursive: true });
  const lock = await acquireLock(dir);
  const file = join(dir, LOG_FILE);
  const handle = await open(file, 'a+').catch(async (error: unknown) => {
    await lock.release();
    throw error;
  });
  let version = 0;
  try {
    const scan = await scanLog(handle, (records) => {
      for (const record of records) {
        if (record.version !== version + 1) {
          throw new LogCorruptError(`${file}: record ${record.version} follows ${version}; the log has a gap`);
        }
        version = record.version;
      }
      replay(records);
    });
    if (scan.bad !== undefined) {
      if (await hasValidLineAfter(handle, scan.validBytes)) {
        throw new LogCorruptError(
          `${file}: bad record at byte ${scan.validBytes} (${scan.bad}) with valid records after it; ` +
            'refusing to start: restore the file from a backup or inspect it by hand',
        );
      }
      logger.warn(
        { file, offset: scan.validBytes, bytes: scan.fileBytes - scan.validBytes, reason: scan.bad },
        'cut off a torn last record (an append that never completed)',
      );
      await handle.truncate(scan.validBytes);
      await handle.datasync();
    }
  } catch (error) {
    // Refused: give back the file as well as the lock, or every retry leaks a descriptor.
    await handle.close();
    await lock.release();
    throw error;
  }

  let durable = version;
  let queued: { line: string; version: number; done: (error?: Error) => void }[] = [];
  let flushing: Promise<void> | undefined;
  let failure: Error | undefined;

  const flush = async (): Promise<void> => {
    while (queued.length) {
      const batch = queued;
      queued = [];
      try {
        if (failure) throw failure;
        const data = Buffer.from(batch.map((entry) => entry.line).join(''));
        for (let written = 0; written < data.length; ) {
          written += (await handle.write(data, written)).bytesWritten;
        }
        await handle.datasync();
        durable = batch.at(-1)!.version;
        for (const entry of batch) entry.done();
      } catch (error) {
        // What is in the file after a failed write is unknown: refuse every later append.
        failure ??= new Error(`${file}: append failed, the log is closed for writing`, { cause: error });
        for (const entry of batch) entry.done(failure);
      }
    }
    flushing = undefined;
  };

  let next = version + 1;
  return {
    get version() {
      return durable;
    },
    append(record) {
      if (failure) return Promise.reject(failure);
      if (record.version !== next) {
        return Promise.reject(new Error(`${file}: append of version ${record.version}, expected ${next}`));
      }
      next++;
      const line = encodeRecord(record);
      return new Promise<void>((resolve, reject) => {
        queued.push({ line, version: record.version, done: (error) => (error ? reject(error) : resolve()) });
        flushing ??= flush();
      });
    },
    async close() {
      await flushing;
      await handle.close();
      await lock.release();
    },
  };
};
