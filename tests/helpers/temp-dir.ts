import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh, empty directory under the OS temp dir. */
export const makeTempDir = (prefix = 'unit-'): Promise<string> => mkdtemp(join(tmpdir(), prefix));

export const removeTempDir = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true });
