import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// Readers of a log in other processes record how far they have durably
// consumed it, so the writer never drops a segment a reader still needs.
const consumersDir = (dir: string) => join(dir, 'consumers');

/** Records that consumer `name` no longer needs records up to `version`. */
export const acknowledge = async (dir: string, name: string, version: number): Promise<void> => {
  await mkdir(consumersDir(dir), { recursive: true });
  const file = join(consumersDir(dir), name);
  await writeFile(`${file}.tmp`, `${version}\n`);
  await rename(`${file}.tmp`, file);
};

/** The lowest version every registered consumer has acknowledged; Infinity when there are none. */
export const lowestAcknowledged = async (dir: string): Promise<number> => {
  const names = (await readdir(consumersDir(dir)).catch(() => [] as string[])).filter((name) => !name.endsWith('.tmp'));
  const versions = await Promise.all(
    names.map(async (name) => Number.parseInt(await readFile(join(consumersDir(dir), name), 'utf8').catch(() => '0'), 10) || 0),
  );
  return versions.length ? Math.min(...versions) : Number.POSITIVE_INFINITY;
};
