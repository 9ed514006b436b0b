import { crc32 } from 'node:zlib';
import type { LogRecord } from '../types';

export const RECORD_FORMAT = 1;

// A line is "<crc32 of the JSON, 8 hex digits> <JSON>\n": greppable, and a torn
// or corrupted line is told apart from a good one without trusting the JSON.
export const encodeRecord = (record: LogRecord): string => {
  const json = JSON.stringify({ format: RECORD_FORMAT, ...record });
  return `${crc32(json).toString(16).padStart(8, '0')} ${json}\n`;
};

export type DecodedLine =
  | { readonly ok: true; readonly record: LogRecord }
  | { readonly ok: false; readonly reason: string };

export const decodeLine = (line: string): DecodedLine => {
  const json = line.slice(9);
  if (line[8] !== ' ' || !/^[0-9a-f]{8}$/.test(line.slice(0, 8))) return { ok: false, reason: 'no checksum' };
  if (crc32(json) !== Number.parseInt(line.slice(0, 8), 16)) return { ok: false, reason: 'checksum mismatch' };
  let parsed: { format?: unknown; version?: unknown; patches?: unknown; events?: unknown; trace?: unknown };
  try {
    parsed = JSON.parse(json);
  } catch {
    return { ok: false, reason: 'invalid JSON' };
  }
  if (parsed.format !== RECORD_FORMAT) return { ok: false, reason: `unknown record format ${String(parsed.format)}` };
  if (!Number.isSafeInteger(parsed.version) || !Array.isArray(parsed.patches) || !Array.isArray(parsed.events)) {
    return { ok: false, reason: 'malformed record' };
  }
  const record = { version: parsed.version as number, patches: parsed.patches, events: parsed.events };
  return { ok: true, record: typeof parsed.trace === 'string' ? { ...record, trace: parsed.trace } : record };
};

export interface ParsedChunk {
  readonly records: LogRecord[];
  /** Bytes of complete, valid lines consumed from the start of the chunk. */
  readonly consumed: number;
  /** Set when a complete line failed to decode: its byte offset in the chunk and why. */
  readonly bad?: { readonly offset: number; readonly reason: string };
}

/** Decodes the complete lines of `chunk`, stopping at the first bad one. */
export const parseChunk = (chunk: Buffer): ParsedChunk => {
  const records: LogRecord[] = [];
  let offset = 0;
  for (;;) {
    const end = chunk.indexOf(0x0a, offset);
    if (end === -1) return { records, consumed: offset };
    const decoded = decodeLine(chunk.toString('utf8', offset, end));
    if (!decoded.ok) return { records, consumed: offset, bad: { offset, reason: decoded.reason } };
    records.push(decoded.record);
    offset = end + 1;
  }
};
