import { open, readFile, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { crc32 } from 'node:zlib';
import type { Logger } from 'pino';
import { fsyncDir, listSnapshots, snapshotFile } from './files';

export const SNAPSHOT_FORMAT = 1;

/**
 * Writes the state at `version` atomically: a temp file, fsync, rename, fsync
 * of the folder. `chunks` is consumed with a yield to the event loop between
 * chunks, so a large state does not stall requests while it is written (the
 * state is immutable, so reading it across ticks is safe).
 */
export const writeSnapshot = async (dir: string, version: number, chunks: Iterable<string>): Promise<string> => {
  const file = snapshotFile(dir, version);
  const temp = `${file}.tmp`;
  const handle = await open(temp, 'w');
  try {
    await handle.write(`${JSON.stringify({ format: SNAPSHOT_FORMAT, version })}\n`);
    let crc = 0;
    let bytes = 0;
    for (const chunk of chunks) {
      const data = Buffer.from(chunk);
      crc = crc32(data, crc);
      bytes += data.length;
      await handle.write(data);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await handle.write(`\n${JSON.stringify({ end: true, bytes, crc })}\n`);
    await handle.sync();
  } catch (error) {
    await handle.close();
    await rm(temp, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temp, file);
  await fsyncDir(dirname(file));
  return file;
};

/** The lines of `body` as strings, each with its newline: the chunks, however the codec grouped them. */
const linesOf = (body: Buffer): string[] => {
  const lines: string[] = [];
  for (let start = 0; start < body.length; ) {
    const end = body.indexOf(0x0a, start);
    const stop = end === -1 ? body.length : end + 1;
    lines.push(body.toString('utf8', start, stop));
    start = stop;
  }
  return lines;
};

/** Why a snapshot file cannot be used, or its version and lines. */
const readSnapshot = async (file: string): Promise<{ version: number; chunks: string[] } | { problem: string }> => {
  const data = await readFile(file);
  const headerEnd = data.indexOf(0x0a);
  const trailerStart = data.lastIndexOf(0x0a, data.length - 2);
  if (headerEnd === -1 || trailerStart <= headerEnd) return { problem: 'no header or trailer' };
  try {
    const header = JSON.parse(data.toString('utf8', 0, headerEnd)) as { format?: unknown; version?: unknown };
    const trailer = JSON.parse(data.toString('utf8', trailerStart + 1)) as { bytes?: unknown; crc?: unknown };
    if (header.format !== SNAPSHOT_FORMAT) return { problem: `unknown format ${String(header.format)}` };
    const body = data.subarray(headerEnd + 1, trailerStart);
    if (trailer.bytes !== body.length || trailer.crc !== crc32(body)) return { problem: 'checksum mismatch' };
    return { version: header.version as number, chunks: linesOf(body) };
  } catch {
    return { problem: 'unreadable header or trailer' };
  }
};

/** The newest snapshot that checks out; damaged ones are skipped with a warning. */
export const readNewestSnapshot = async (dir: string, logger: Logger) => {
  for (const { file } of (await listSnapshots(dir)).reverse()) {
    const snapshot = await readSnapshot(file);
    if ('chunks' in snapshot) return { ...snapshot, file };
    logger.warn({ file, problem: snapshot.problem }, 'skipping a damaged snapshot');
  }
  return undefined;
};
