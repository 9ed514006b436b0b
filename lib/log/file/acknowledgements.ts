import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

// Readers of a log in other processes record how far they have durably
// consumed it, so the writer never drops a segment a declared reader still needs.
const consumersDir = (dir: string) => join(dir, 'consumers');

/** Records that consumer `name` no longer needs records up to `version`. */
export const acknowledge = async (dir: string, name: string, version: number): Promise<void> => {
  await mkdir(consumersDir(dir), { recursive: true });
  const file = join(consumersDir(dir), name);
  await writeFile(`${file}.tmp`, `${version}\n`);
  await rename(`${file}.tmp`, file);
};

/**
 * The lowest version every declared reader has acknowledged (0 for one that
 * has never run: it needs everything), Infinity when none is declared; and
 * the readers that acknowledge without being declared, which hold nothing back.
 */
export const lowestAcknowledged = async (dir: string, readers: readonly string[]): Promise<{ lowest: number; undeclared: string[] }> => {
  const names = (await readdir(consumersDir(dir)).catch(() => [] as string[])).filter((name) => !name.endsWith('.tmp'));
  const versions = await Promise.all(
    readers.map(async (name) => Number.parseInt(await readFile(join(consumersDir(dir), name), 'utf8').catch(() => '0'), 10) || 0),
  );
  return { lowest: Math.min(...versions), undeclared: names.filter((name) => !readers.includes(name)) };
};
