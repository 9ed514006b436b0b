import type { Pool } from 'pg';

// Any constant will do: it only has to be the same in every process that migrates.
const MIGRATION_LOCK = 0x6c6f6731;

const STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS log_records (
     stream  text   NOT NULL,
     version bigint NOT NULL,
     record  text   NOT NULL,
     PRIMARY KEY (stream, version)
   )`,
  `CREATE TABLE IF NOT EXISTS log_snapshots (
     stream     text        NOT NULL,
     version    bigint      NOT NULL,
     body       text        NOT NULL,
     written_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (stream, version)
   )`,
];

/** Creates the tables if they are missing; replicas starting together take turns. */
export const migrate = async (pool: Pool): Promise<void> => {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    for (const statement of STATEMENTS) await client.query(statement);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
};
