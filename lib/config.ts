import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
const positive = (fallback: number) => z.coerce.number().int().min(1).default(fallback);
const optionalUrl = z.url({ protocol: /^https?$/ }).optional();
const secret = z.string().min(16, 'must be at least 16 characters').optional();

/** `https://app.example.com,http://localhost:5173`: exact origins (scheme, host, port), or `*` for any. */
const origins = z
  .string()
  .transform((value, ctx) => {
    const list = value.split(',').map((item) => item.trim()).filter(Boolean);
    for (const origin of list) {
      if (origin === '*') continue;
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {
        parsed = undefined;
      }
      if (!parsed || parsed.origin !== origin) {
        ctx.issues.push({ code: 'custom', input: origin, message: `"${origin}" is not an origin like https://app.example.com (no path, no trailing slash)` });
      }
    }
    return list;
  })
  .optional();

/** Express's `trust proxy`: `true`, a hop count, or addresses/subnets (`loopback`, `10.0.0.0/8`, …). */
const trustProxy = z
  .string()
  .transform((value, ctx): boolean | number | string => {
    if (value === 'false') return false;
    if (value === 'true') return true;
    if (/^\d+$/.test(value)) return Number(value);
    const named = new Set(['loopback', 'linklocal', 'uniquelocal']);
    for (const item of value.split(',').map((part) => part.trim())) {
      if (!named.has(item) && isIP(item.split('/')[0] ?? '') === 0) {
        ctx.issues.push({ code: 'custom', input: item, message: `"${item}" is not true, false, a hop count, an IP, a CIDR subnet or loopback/linklocal/uniquelocal` });
      }
    }
    return value;
  })
  .default(false);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Where the subgraphs listen: loopback, so that only this machine (the gateway) reaches them. */
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
  /** Backoff of transient SMTP failures: first delay, doubled per attempt up to the cap, with jitter. */
  /** A snapshot of a service's state after this many log records, or this many bytes of log, whichever first. */
  SNAPSHOT_EVERY_RECORDS: positive(10_000),
  SNAPSHOT_EVERY_BYTES: positive(64 * 1024 * 1024),
  SMTP_RETRY_BASE_MS: positive(1_000),
  SMTP_RETRY_MAX_MS: positive(5 * 60_000),
  SUBGRAPH_SECRET: secret,
  SUPERGRAPH_PATH: z.string().min(1).default(resolve(__dirname, '..', 'gateway', 'supergraph.graphql')),
  SUBGRAPH_TIMEOUT_MS: positive(10_000),
  /** `on`: identical subgraph queries in flight at the same time share one call (mutations never). */
  SUBGRAPH_MERGE_QUERIES: z.enum(['on', 'off']).default('off'),
  CORS_ORIGINS: origins,
  TRUST_PROXY: trustProxy,
  MAX_BODY_BYTES: positive(64 * 1024),
  MAX_QUERY_DEPTH: positive(8),
  MAX_QUERY_ALIASES: z.coerce.number().int().min(0).default(15),
  MAX_QUERY_TOKENS: positive(1000),
  MAX_QUERY_COST: positive(5000),
  MAX_QUERY_DIRECTIVES: z.coerce.number().int().min(0).default(20),
  SIGNUP_RATE_PER_IP: positive(10),
  SIGNUP_RATE_GLOBAL: positive(600),
  SIGNUP_RATE_WINDOW_MS: positive(10 * 60_000),
  SHUTDOWN_GRACE_MS: positive(10_000),
  METRICS_TOKEN: secret,
  /** `off`: log records are written but not fsync'd. Only to measure what durability costs; refused in production. */
  LOG_FSYNC: z.enum(['on', 'off']).default('on'),
});

export type Config = Readonly<z.infer<typeof schema>>;

/** Which process the configuration is for: each refuses to start without what it needs. */
export type ServiceName = 'gateway' | 'users' | 'notifications' | 'all';

/** What each service cannot run without in production. */
const REQUIRED_IN_PRODUCTION: Record<ServiceName, readonly (keyof Config)[]> = {
  gateway: ['SUBGRAPH_SECRET'],
  users: ['SUBGRAPH_SECRET'],
  notifications: ['SUBGRAPH_SECRET', 'SMTP_URL'],
  all: ['SUBGRAPH_SECRET', 'SMTP_URL'],
};

const WHY_REQUIRED: Partial<Record<keyof Config, string>> = {
  SUBGRAPH_SECRET: 'required in production: the shared secret the gateway sends and the subgraphs demand',
  SMTP_URL: 'required in production: without it welcome emails would only be written to the dev outbox',
};

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * The only reader of the environment: parses every variable of the run
 * contract, reports every problem at once, and returns a frozen object.
 */
export const loadConfig = (env: NodeJS.ProcessEnv = process.env, service: ServiceName = 'all'): Config => {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
  if (present.NODE_ENV === 'production') {
    for (const key of REQUIRED_IN_PRODUCTION[service]) {
      if (present[key] === undefined) problems.push(`  ${key}: ${WHY_REQUIRED[key]}`);
    }
  }
  if (present.NODE_ENV === 'production' && present.LOG_FSYNC === 'off') {
    problems.push('  LOG_FSYNC: off is for benchmarks only (acknowledged sign-ups would not survive a power cut); refused in production');
  }
  if (!parsed.success || problems.length) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  return Object.freeze({ ...parsed.data, DATA_DIR: resolve(parsed.data.DATA_DIR), SUPERGRAPH_PATH: resolve(parsed.data.SUPERGRAPH_PATH) });
};
