import { open, type FileHandle } from 'node:fs/promises';
import { listSegments } from './files';
import type { LogRecord } from '../types';
import { decodeLine, parseChunk } from './record';

const READ_CHUNK = 8 * 1024 * 1024;

export interface SegmentChunk {
  /** The complete, valid records of this chunk, in order. */
  readonly records: LogRecord[];
  /** The byte offset just past the last of them. */
  readonly end: number;
  /** Set on the last chunk when a complete line failed to decode: why. */
  readonly bad?: string;
}

/**
 * Reads a segment from `offset` to its end as it is now, chunk by chunk. A
 * line that spans chunks is carried over; a partial last line (being written,
 * or torn) is left unread; the first bad complete line ends the reading.
 */
export async function* readSegment(handle: FileHandle, offset = 0): AsyncGenerator<SegmentChunk> {
  const { size } = await handle.stat();
  let carry = Buffer.alloc(0);
  let position = offset;
  let end = offset;
  while (position < size) {
    const buffer = Buffer.allocUnsafe(Math.min(READ_CHUNK, size - position));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
    if (bytesRead === 0) return;
    position += bytesRead;
    const chunk = carry.length ? Buffer.concat([carry, buffer.subarray(0, bytesRead)]) : buffer.subarray(0, bytesRead);
    const parsed = parseChunk(chunk);
    end += parsed.consumed;
    if (parsed.bad) {
      yield { records: parsed.records, end, bad: parsed.bad.reason };
      return;
    }
    if (parsed.records.length) yield { records: parsed.records, end };
    carry = Buffer.from(chunk.subarray(parsed.consumed));
  }
}

/** The version of the newest complete record in `file`, read from its end. */
const lastVersionIn = async (file: string): Promise<number | undefined> => {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const { size } = await handle.stat();
    for (let window = 64 * 1024; ; window *= 4) {
      const start = Math.max(0, size - window);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      // The last line may be torn (being written); the first may be cut by the window.
      const lines = buffer.toString('utf8').split('\n').slice(start === 0 ? 0 : 1, -1);
      for (const line of lines.reverse()) {
        const decoded = decodeLine(line);
        if (decoded.ok) return decoded.record.version;
      }
      if (start === 0) return undefined;
    }
  } finally {
    await handle.close();
  }
};

/** The newest version in a log that another process writes: 0 when there is none yet. */
export const readLogHead = async (dir: string): Promise<number> => {
  for (const { file } of (await listSegments(dir)).reverse()) {
    const version = await lastVersionIn(file);
    if (version !== undefined) return version;
  }
  return 0;
};
