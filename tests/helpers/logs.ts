import pino, { type Logger } from 'pino';
import { loggerOptions } from '../../lib/logger';

/** One parsed log line: pino's numeric `level`, `msg`, and the bound fields (`reqId`, `service`, …). */
export interface LogLine {
  readonly level: number;
  readonly msg?: string;
  readonly reqId?: string;
  readonly [field: string]: unknown;
}

/** A logger that writes nothing. */
export const silentLogger = (): Logger => pino({ level: 'silent' });

/** pino's number for the warn level. */
export const WARN = 40;
export const ERROR = 50;

/** A logger configured as the services' own (redaction included) that keeps every line, parsed, in order. */
export const recordingLogger = (level = 'debug'): { logger: Logger; lines: LogLine[] } => {
  const lines: LogLine[] = [];
  const logger = pino(loggerOptions(level), { write: (line: string) => void lines.push(JSON.parse(line) as LogLine) });
  return { logger, lines };
};
