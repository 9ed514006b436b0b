import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';

/** A fresh, empty directory under the OS temp dir. */
export const makeTempDir = (prefix = 'unit-'): Promise<string> => mkdtemp(join(tmpdir(), prefix));

export const removeTempDir = (dir: string): Promise<void> => rm(dir, { recursive: true, force: true });

/** A logger that writes nothing. */
export const silentLogger = (): Logger => pino({ level: 'silent' });

/** One parsed pino line: `level` is pino's number (40 = warn), `msg` the message, the rest the bound fields. */
export interface LogLine {
  readonly level: number;
  readonly msg?: string;
  readonly [field: string]: unknown;
}

export const WARN = 40;

/** A logger that keeps every line it writes, parsed, in `lines` (synchronously, in order). */
export const capturingLogger = (level = 'debug'): { logger: Logger; lines: LogLine[] } => {
  const lines: LogLine[] = [];
  const logger = pino({ level, base: undefined }, { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
};
