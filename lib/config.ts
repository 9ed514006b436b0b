import { resolve } from 'node:path';
import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const optionalUrl = z.url({ protocol: /^https?$/ }).optional();

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** Unset: every interface, as a public endpoint needs. */
  GATEWAY_HOST: z.string().min(1).optional(),
  GATEWAY_PORT: port(4000),
  USERS_PORT: port(4001),
  NOTIFICATIONS_PORT: port(4002),
  USERS_URL: optionalUrl,
  NOTIFICATIONS_URL: optionalUrl,
  DATA_DIR: z.string().min(1).default('.data'),
  SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
  MAIL_FROM: z.string().min(3).default('Welcome <welcome@localhost>'),
});

export type Config = Readonly<Omit<z.infer<typeof schema>, 'DATA_DIR'> & { DATA_DIR: string }>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * The only reader of the environment: parses every variable of the run
 * contract, reports every problem at once, and returns a frozen object.
 */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env): Config => {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
    throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  }
  return Object.freeze({ ...parsed.data, DATA_DIR: resolve(parsed.data.DATA_DIR) });
};
