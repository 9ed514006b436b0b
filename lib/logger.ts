import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  readonly level: string;
  /** JSON lines in production; readable lines in development. */
  readonly pretty: boolean;
}

// Synchronous in both modes, so the last lines before an exit are not lost.
export const createLogger = ({ level, pretty: readable }: LoggerOptions): Logger =>
  readable
    ? pino({ level, base: undefined }, pretty({ sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }))
    : pino({ level, base: undefined });
