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
  `CREATE TABLE IF NOT EXISTS log_snapshots (
     stream     text        NOT NULL,
     version    bigint      NOT NULL,
     body       text        NOT NULL,
     written_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (stream, version)
   )`,
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
