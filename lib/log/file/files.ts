import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

// File names carry the version, zero-padded so that names sort as numbers do.
const pad = (version: number) => String(version).padStart(16, '0');

/** A log segment holds the records from `first` up to the next segment's first. */
export const segmentFile = (dir: string, first: number) => join(dir, `segment-${pad(first)}.log`);
export const snapshotFile = (dir: string, version: number) => join(dir, `snapshot-${pad(version)}.json`);

const numbered = async (dir: string, pattern: RegExp) =>
  (await readdir(dir).catch(() => [] as string[]))
    .flatMap((name) => {
      const match = pattern.exec(name);
      return match ? [{ number: Number(match[1]), file: join(dir, name) }] : [];
    })
    .sort((a, b) => a.number - b.number);

/** Segments, oldest first. */
export const listSegments = async (dir: string) =>
  (await numbered(dir, /^segment-(\d{16})\.log$/)).map(({ number, file }) => ({ first: number, file }));

/** Complete snapshots, oldest first. */
export const listSnapshots = async (dir: string) =>
  (await numbered(dir, /^snapshot-(\d{16})\.json$/)).map(({ number, file }) => ({ version: number, file }));

/** Makes a rename or unlink in `dir` durable. */
export const fsyncDir = async (dir: string) => {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
};
