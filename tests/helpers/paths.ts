import { join } from 'node:path';

/** The repository's root folder. */
export const ROOT = join(__dirname, '..', '..');
