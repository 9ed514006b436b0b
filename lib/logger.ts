import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

export type { Logger };

export interface LoggerOptions {
  readonly level: string;
  /** JSON lines in production; readable lines in development. */
  readonly pretty: boolean;
}

/** Fields that may hold an address, a message body or a credential, at the top level or one level down. */
const SENSITIVE = ['email', 'to', 'address', 'input', 'variables', 'text', 'html', 'body', 'authorization', 'cookie', 'x-subgraph-secret'];

const REDACT_PATHS = SENSITIVE.flatMap((key) => [`["${key}"]`, `*["${key}"]`]);

const EMAIL_LIKE = /[^\s@<>"'(),;:]+@[^\s@<>"'(),;:]+\.[^\s@<>"'(),;:]+/g;

/** Replaces what looks like an email address: errors from SMTP servers and validators quote them. */
const scrubEmails = (text: string): string => text.replace(EMAIL_LIKE, '[email]');

const errSerializer = (error: Error) => {
  const serialized = pino.stdSerializers.err(error);
  if (!serialized || typeof serialized !== 'object') return serialized;
  return {
    ...serialized,
    message: scrubEmails(String(serialized.message ?? '')),
    ...(serialized.stack ? { stack: scrubEmails(serialized.stack) } : {}),
  };
};

/** Redaction and error scrubbing every logger of this project uses, tests' capturing loggers included. */
export const loggerOptions = (level: string): pino.LoggerOptions => ({
  level,
  base: undefined,
  redact: { paths: REDACT_PATHS, censor: '[redacted]' },
  serializers: { err: errSerializer },
});

// Synchronous in both modes, so the last lines before an exit are not lost.
export const createLogger = ({ level, pretty: readable }: LoggerOptions): Logger =>
  readable
    ? pino(loggerOptions(level), pretty({ sync: true, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' }))
    : pino(loggerOptions(level), pino.destination({ dest: 1, sync: true }));
