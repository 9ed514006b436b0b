import type { Pool } from 'pg';
import type { LogRecord } from '../types';

/** The channel every append notifies, with `<stream>:<newest version>` as payload. */
export const CHANNEL = 'log_appended';

/** Rows per catch-up query. */
export const PAGE = 1000;

// Text, not jsonb: stored byte for byte, no \u0000 limits, no parsing on write.
export const encode = ({ patches, events, trace }: LogRecord): string => JSON.stringify({ patches, events, trace });

const decode = (version: string, text: string): LogRecord => {
  const { patches, events, trace } = JSON.parse(text) as Omit<LogRecord, 'version'>;
  return trace === undefined ? { version: Number(version), patches, events } : { version: Number(version), patches, events, trace };
};

/** One page of the records of `stream` after `after`, in order. */
export const readPage = async (pool: Pool, stream: string, after: number, limit = PAGE): Promise<LogRecord[]> => {
  const { rows } = await pool.query<{ version: string; record: string }>(
    'SELECT version, record FROM log_records WHERE stream = $1 AND version > $2 ORDER BY version LIMIT $3',
    [stream, after, limit],
  );
  return rows.map((row) => decode(row.version, row.record));
};

/** Hands every record of `stream` after `after` to `onRecords`, page by page; resolves with the newest version read. */
export const readAll = async (pool: Pool, stream: string, after: number, onRecords: (records: LogRecord[]) => void): Promise<number> => {
  let version = after;
  for (;;) {
    const page = await readPage(pool, stream, version);
    if (page.length) {
      onRecords(page);
      version = page.at(-1)!.version;
    }
    if (page.length < PAGE) return version;
  }
};
