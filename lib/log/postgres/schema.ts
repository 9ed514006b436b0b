import type { Pool } from 'pg';
import { migrate } from '../../postgres';

// Any constant will do: it only has to be the same in every process that migrates.
const MIGRATION_LOCK = 0x6c6f6731;

const STATEMENTS = [
  `CREATE TABLE IF NOT EXISTS log_records (
     stream  text   NOT NULL,
     version bigint NOT NULL,
     record  text   NOT NULL,
     PRIMARY KEY (stream, version)
   )`,
  // A snapshot is the rows of one (stream, version), a part per chunk its codec wrote.
  `CREATE TABLE IF NOT EXISTS log_snapshots (
     stream     text        NOT NULL,
     version    bigint      NOT NULL,
     part       integer     NOT NULL DEFAULT 0,
     body       text        NOT NULL,
     written_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (stream, version, part)
   )`,
  // Tables made before snapshots had parts: each of their snapshots is one row, which reads as part 0.
  `ALTER TABLE log_snapshots ADD COLUMN IF NOT EXISTS part integer NOT NULL DEFAULT 0`,
  `DO $$ BEGIN
     IF NOT EXISTS (
       SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
       WHERE i.indrelid = 'log_snapshots'::regclass AND i.indisprimary AND a.attname = 'part'
     ) THEN
       ALTER TABLE log_snapshots DROP CONSTRAINT log_snapshots_pkey, ADD PRIMARY KEY (stream, version, part);
     END IF;
   END $$`,
  // How far each reader of a stream has consumed it: records no declared reader still needs may be pruned.
  `CREATE TABLE IF NOT EXISTS log_readers (
     stream  text   NOT NULL,
     reader  text   NOT NULL,
     version bigint NOT NULL,
     PRIMARY KEY (stream, reader)
   )`,
];

/** Creates the tables if they are missing; replicas starting together take turns. */
export const migrateLog = (pool: Pool): Promise<void> => migrate(pool, MIGRATION_LOCK, STATEMENTS);
