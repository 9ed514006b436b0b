import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * The project's root: the nearest folder above this file holding a
 * package.json. The same from the TypeScript sources and from their build in
 * dist/, so files the services read (schemas, the supergraph) are found from
 * either.
 */
const findRoot = (from: string): string => {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
};

export const PROJECT_ROOT = findRoot(__dirname);
