import { constants } from 'node:fs';
import { mkdir, open, readdir, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { lowestAcknowledged } from './acknowledgements';
import { fsyncDir, listSegments, listSnapshots, segmentFile } from './files';
import { acquireLock } from './lock';
import type { LogRecord, OpenStreamOptions, StreamLog } from '../types';
import { readSegment } from './read';
import { decodeLine, encodeRecord } from './record';
import { readNewestSnapshot, writeSnapshot } from './snapshot';

export class LogCorruptError extends Error {
  override readonly name = 'LogCorruptError';
}

export interface OpenFileLogOptions extends OpenStreamOptions {
  readonly dir: string;
  /** One fsync per record instead of group commit: only to measure what group commit saves. */
  readonly syncEachRecord?: boolean;
  /** False: records are written but never fsync'd. Benchmarks only (the cost of durability); config refuses it in production. */
  readonly fsync?: boolean;
}

/**
 * Hands the records of a segment to `onRecords`, chunk by chunk. Returns the
 * byte length of the valid prefix and, when the file goes on past it, why.
 */
const scanSegment = async (
  handle: FileHandle,
  onRecords: (records: LogRecord[]) => void,
): Promise<{ validBytes: number; fileBytes: number; bad?: string }> => {
  const { size } = await handle.stat();
  let validBytes = 0;
  for await (const chunk of readSegment(handle)) {
    if (chunk.records.length) onRecords(chunk.records);
    validBytes = chunk.end;
    if (chunk.bad) return { validBytes, fileBytes: size, bad: chunk.bad };
  }
  return { validBytes, fileBytes: size, ...(validBytes < size ? { bad: 'incomplete last line' } : {}) };
};

/** True when some complete line after `offset` is a valid record: the damage is not just a torn tail. */
const hasValidLineAfter = async (handle: FileHandle, offset: number): Promise<boolean> => {
  const { size } = await handle.stat();
  const rest = Buffer.alloc(size - offset);
  await handle.read(rest, 0, rest.length, offset);
  const firstNewline = rest.indexOf(0x0a);
  if (firstNewline === -1) return false;
  for (const line of rest.subarray(firstNewline + 1).toString('utf8').split('\n')) {
    if (decodeLine(line).ok) return true;
  }
  return false;
};

/**
 * Reads the snapshot and the segments after it. Only the last segment may end
 * in a torn record, which is cut off with a warning; any other damage refuses.
 */
const recover = async ({ dir, logger, restore, replay }: OpenFileLogOptions): Promise<{ version: number; active: string }> => {
  const snapshot = await readNewestSnapshot(dir, logger);
  let version = 0;
  if (snapshot) {
    if (!restore) throw new LogCorruptError(`${snapshot.file}: a snapshot is there but nothing can restore it`);
    restore({ version: snapshot.version, chunks: snapshot.chunks });
    version = snapshot.version;
  }
  const segments = await listSegments(dir);
  // Segments wholly covered by the snapshot are not read.
  const needed = segments.filter((segment, i) => (segments[i + 1]?.first ?? Number.POSITIVE_INFINITY) > version + 1);
  if (needed.length && needed[0]!.first > version + 1) {
    throw new LogCorruptError(
      `${needed[0]!.file}: starts at record ${needed[0]!.first} but the newest snapshot ends at ${version}; records are missing`,
    );
  }
  for (const [i, { file }] of needed.entries()) {
    const handle = await open(file, 'r+');
    try {
      const scan = await scanSegment(handle, (records) => {
        const fresh = records.filter((record) => record.version > version);
        for (const record of fresh) {
          if (record.version !== version + 1) {
            throw new LogCorruptError(`${file}: record ${record.version} follows ${version}; the log has a gap`);
          }
          version = record.version;
        }
        if (fresh.length) replay(fresh);
      });
      if (scan.bad === undefined) continue;
      if (i < needed.length - 1 || (await hasValidLineAfter(handle, scan.validBytes))) {
        throw new LogCorruptError(
          `${file}: bad record at byte ${scan.validBytes} (${scan.bad}) with valid records after it; ` +
            'refusing to start: restore the file from a backup or inspect it by hand',
        );
      }
      logger.warn(
        { file, offset: scan.validBytes, bytes: scan.fileBytes - scan.validBytes, reason: scan.bad },
        `cut off a torn last record at byte ${scan.validBytes} of ${file} (an append that never completed)`,
      );
      await handle.truncate(scan.validBytes);
      await handle.datasync();
    } finally {
      await handle.close();
    }
  }
  return { version, active: needed.at(-1)?.file ?? segmentFile(dir, version + 1) };
};

/** Hands the durable records after `after` to `onRecords`, segment by segment; resolves with the newest version read. */
const readAfter = async (dir: string, after: number, onRecords: (records: LogRecord[]) => void): Promise<number> => {
  const segments = await listSegments(dir);
  let version = after;
  for (const [i, { file }] of segments.entries()) {
    if ((segments[i + 1]?.first ?? Number.POSITIVE_INFINITY) <= after + 1) continue;
    const handle = await open(file, 'r');
    try {
      for await (const chunk of readSegment(handle)) {
        const fresh = chunk.records.filter((record) => record.version > version);
        if (fresh.length) {
          onRecords(fresh);
          version = fresh.at(-1)!.version;
        }
        if (chunk.bad) throw new LogCorruptError(`${file}: bad record at byte ${chunk.end} (${chunk.bad})`);
      }
    } finally {
      await handle.close();
    }
  }
  return version;
};

/**
 * Opens the log in `dir` as its one writer: restores the newest snapshot,
 * replays the records after it, and appends with group commit (records that
 * arrive while an fsync runs share the next one).
 */
export const openFileLog = async (options: OpenFileLogOptions): Promise<StreamLog> => {
  const { dir, logger, syncEachRecord = false, fsync = true, readers = [] } = options;
  // O_DSYNC: each write returns once its data (and the file size) is on disk, as write + fdatasync
  // would, in one system call and one trip through libuv's thread pool instead of two.
  const appendFlags = fsync ? constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC : 'a';
  await mkdir(dir, { recursive: true });
  const lock = await acquireLock(dir);
  let handle: FileHandle;
  let version: number;
  try {
    for (const name of await readdir(dir)) if (name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
    let active: string;
    ({ version, active } = await recover(options));
    handle = await open(active, appendFlags);
  } catch (error) {
    await lock.release();
    throw error;
  }

  let durable = version;
  let next = version + 1;
  let queued: { line: string; version: number; done: (error?: Error) => void }[] = [];
  let flushing: Promise<void> | undefined;
  let failure: Error | undefined;
  let rotate = false;
  let sinceSnapshot = { records: 0, bytes: 0 };
  let closed = false;

  const write = async (batch: typeof queued) => {
    if (rotate) {
      // A new segment per snapshot, so that older segments can be dropped whole.
      await handle.close();
      handle = await open(segmentFile(dir, batch[0]!.version), appendFlags);
      await fsyncDir(dir);
      rotate = false;
    }
    const data = Buffer.from(batch.map((entry) => entry.line).join(''));
    for (let written = 0; written < data.length; ) {
      written += (await handle.write(data, written)).bytesWritten;
    }
  };

  const flush = async (): Promise<void> => {
    while (queued.length) {
      const batch = syncEachRecord ? queued.splice(0, 1) : queued.splice(0);
      try {
        if (failure) throw failure;
        await write(batch);
        durable = batch.at(-1)!.version;
        for (const entry of batch) entry.done();
      } catch (error) {
        // What is in the file after a failed write is unknown: refuse every later append.
        failure ??= new Error(`${dir}: append failed, the log is closed for writing`, { cause: error });
        for (const entry of batch) entry.done(failure);
      }
    }
    flushing = undefined;
  };

  // The two newest snapshots stay, with the records after the older one: a
  // damaged newest snapshot then costs a longer replay, not the data.
  const prune = async () => {
    const snapshots = await listSnapshots(dir);
    const kept = snapshots.slice(-2);
    const { lowest, undeclared } = await lowestAcknowledged(dir, readers);
    if (undeclared.length) logger.warn({ dir, undeclared, readers }, 'readers that are not declared read this log: what they have not read yet may be dropped');
    const limit = Math.min(kept.length === 2 ? kept[0]!.version : 0, lowest);
    const segments = await listSegments(dir);
    const dropped = segments.filter((segment, i) => i < segments.length - 1 && segments[i + 1]!.first - 1 <= limit);
    for (const { file } of [...dropped, ...snapshots.slice(0, -2)]) await rm(file, { force: true });
    if (dropped.length || snapshots.length > 2) await fsyncDir(dir);
    return dropped.length;
  };

  return {
    get version() {
      return durable;
    },
    append(record) {
      if (failure) return Promise.reject(failure);
      if (record.version !== next) {
        return Promise.reject(new Error(`${dir}: append of version ${record.version}, expected ${next}`));
      }
      next++;
      const line = encodeRecord(record);
      sinceSnapshot = { records: sinceSnapshot.records + 1, bytes: sinceSnapshot.bytes + line.length };
      return new Promise<void>((resolve, reject) => {
        queued.push({ line, version: record.version, done: (error) => (error ? reject(error) : resolve()) });
        flushing ??= flush();
      });
    },
    async snapshot(at, chunks) {
      if (at > durable) throw new Error(`${dir}: snapshot of version ${at}, but only ${durable} is durable`);
      rotate = true;
      sinceSnapshot = { records: 0, bytes: 0 };
      const started = performance.now();
      const file = await writeSnapshot(dir, at, chunks);
      const dropped = await prune();
      logger.info({ file, version: at, droppedSegments: dropped, ms: Math.round(performance.now() - started) }, 'snapshot written');
    },
    get sinceSnapshot() {
      return sinceSnapshot;
    },
    read: (after, onRecords) => {
      // Records being written are in the file before their fsync: only durable ones count.
      const limit = durable;
      return readAfter(dir, Math.min(after, limit), (records) => {
        const upTo = records.filter((record) => record.version <= limit);
        if (upTo.length) onRecords(upTo);
      }).then((version) => Math.min(version, limit));
    },
    // The lock makes this process the one writer: nobody else appends.
    follow: () => ({ close: async () => undefined }),
    async close() {
      if (closed) return;
      closed = true;
      await flushing;
      await handle.close();
      await lock.release();
    },
  };
};
