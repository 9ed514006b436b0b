import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { z } from 'zod';

// Each service declares the keys it reads as a `ConfigSpec`; `npm start` merges
// the three. `loadConfig` reads them; other readers of the environment are
// `APOLLO_TELEMETRY_DISABLED`, which @apollo/gateway reads itself (gateway/src/server.ts defaults it),
// and the OTLP exporter's own `OTEL_EXPORTER_OTLP_HEADERS`/`_TIMEOUT`/`_COMPRESSION` (lib/tracing.ts).

export const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);
export const positive = (fallback: number) => z.coerce.number().int().min(1).default(fallback);
export const optionalUrl = z.url({ protocol: /^https?$/ }).optional();
/** A path, resolved against the working directory. */
export const path = (fallback: string) => z.string().min(1).default(fallback).transform((value) => resolve(value));
const secret = z.string().min(16, 'must be at least 16 characters').optional();
/** `postgres://user:password@host:5432/db`: the shared log of every replica. */
const databaseUrl = z
  .url({ protocol: /^postgres(ql)?$/, error: 'must be a URL like postgres://user:password@host:5432/db' })
  .optional();

/** `trust proxy` as Express defines it: `true`, a hop count, or addresses/subnets (`loopback`, `10.0.0.0/8`, …). */
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

/** What the keys' defaults may depend on. */
export interface ConfigContext {
  readonly production: boolean;
}

export interface ConfigSpec<T extends z.ZodRawShape> {
  readonly keys: (context: ConfigContext) => T;
  /** Keys a service cannot run without in production, with why (shown to the operator). */
  readonly requiredInProduction?: { readonly [K in keyof T]?: string };
  /** Rules across keys: each problem as `KEY: what is wrong`. */
  readonly check?: (values: z.infer<z.ZodObject<T>>, context: ConfigContext) => readonly string[];
}

export type ConfigOf<S> = S extends ConfigSpec<infer T> ? Readonly<z.infer<z.ZodObject<T>>> : never;

export const defineConfig = <T extends z.ZodRawShape>(spec: ConfigSpec<T>): ConfigSpec<T> => spec;

/** One spec reading every key of `a` and `b`: what a process running several services needs. */
export const mergeConfigs = <A extends z.ZodRawShape, B extends z.ZodRawShape>(a: ConfigSpec<A>, b: ConfigSpec<B>): ConfigSpec<A & B> => ({
  keys: (context) => ({ ...a.keys(context), ...b.keys(context) }),
  requiredInProduction: { ...a.requiredInProduction, ...b.requiredInProduction } as ConfigSpec<A & B>['requiredInProduction'],
  check: (values, context) => [...(a.check?.(values as never, context) ?? []), ...(b.check?.(values as never, context) ?? [])],
});

/** What every service reads. */
export const commonConfig = defineConfig({
  keys: () => ({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SUBGRAPH_SECRET: secret,
    TRUST_PROXY: trustProxy,
    SHUTDOWN_GRACE_MS: positive(10_000),
    /** A client must send a request's headers within this, and the whole request within the next: slow clients cannot hold sockets. */
    HTTP_HEADERS_TIMEOUT_MS: positive(10_000),
    HTTP_REQUEST_TIMEOUT_MS: positive(30_000),
    /** Longer than a load balancer's usual 60 s idle timeout, so the balancer, not this server, closes idle connections (fastify's 72 s). */
    HTTP_KEEP_ALIVE_TIMEOUT_MS: positive(72_000),
    /** Sockets open at once; past it new ones are closed at once. */
    HTTP_MAX_CONNECTIONS: positive(10_000),
    METRICS_TOKEN: secret,
    /** Unset: the embedded backend under DATA_DIR (subgraphs) and counters in memory (gateway). */
    DATABASE_URL: databaseUrl,
    /** Connections of a subgraph's log pool; each subgraph also holds one for LISTEN, the gateway 4 for its counters. */
    DATABASE_POOL_SIZE: positive(10),
    /** Tracing is off unless one of these is set: OTLP over HTTP, `<endpoint>/v1/traces` or the traces URL itself. */
    OTEL_EXPORTER_OTLP_ENDPOINT: optionalUrl,
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optionalUrl,
    OTEL_SDK_DISABLED: z.enum(['true', 'false']).default('false'),
    /** Unset: each service's own name (`gateway`, `users`, `notifications`). */
    OTEL_SERVICE_NAME: z.string().min(1).optional(),
    OTEL_TRACES_SAMPLER: z
      .enum(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
      .default('parentbased_always_on'),
    /** The share of new traces kept by the `traceidratio` samplers. */
    OTEL_TRACES_SAMPLER_ARG: z.coerce.number().min(0).max(1).optional(),
  }),
  requiredInProduction: {
    SUBGRAPH_SECRET: 'required in production: the shared secret the gateway sends and the subgraphs demand',
  },
  check: (values, { production }) => [
    ...(values.HTTP_HEADERS_TIMEOUT_MS > values.HTTP_REQUEST_TIMEOUT_MS
      ? [`HTTP_HEADERS_TIMEOUT_MS: must not exceed HTTP_REQUEST_TIMEOUT_MS (${values.HTTP_REQUEST_TIMEOUT_MS}), got ${values.HTTP_HEADERS_TIMEOUT_MS}`]
      : []),
    ...(values.OTEL_TRACES_SAMPLER_ARG !== undefined && !values.OTEL_TRACES_SAMPLER.endsWith('traceidratio')
      ? [`OTEL_TRACES_SAMPLER_ARG: only the traceidratio samplers take a ratio; OTEL_TRACES_SAMPLER is ${values.OTEL_TRACES_SAMPLER}`]
      : []),
    ...(production && values.TRUST_PROXY === true
      ? [
          'TRUST_PROXY: true trusts the leftmost X-Forwarded-For entry, which any client writes (one client would pass for many); refused in production: give the number of proxies in front (a hop count) or their addresses or subnets',
        ]
      : []),
  ],
});

/** The limits every service's HTTP server holds its clients to. */
export const httpLimitsOf = (config: CommonConfig): HttpLimits => ({
  headersTimeoutMs: config.HTTP_HEADERS_TIMEOUT_MS,
  requestTimeoutMs: config.HTTP_REQUEST_TIMEOUT_MS,
  keepAliveTimeoutMs: config.HTTP_KEEP_ALIVE_TIMEOUT_MS,
  maxConnections: config.HTTP_MAX_CONNECTIONS,
});

export interface HttpLimits {
  readonly headersTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly keepAliveTimeoutMs: number;
  readonly maxConnections: number;
}

export type CommonKeys = ReturnType<typeof commonConfig.keys>;
export type CommonConfig = ConfigOf<typeof commonConfig>;

/** What every subgraph reads besides its port: where it listens and where its log lives. */
export const subgraphConfig = mergeConfigs(
  commonConfig,
  defineConfig({
    keys: ({ production }) => ({
      /** `off`: log records are written but not fsync'd. Only to measure what durability costs; refused in production. */
      LOG_FSYNC: production
        ? z.literal('on', { error: 'off is for benchmarks only (acknowledged sign-ups would not survive a power cut); refused in production' }).default('on')
        : z.enum(['on', 'off']).default('on'),
      /** Loopback, so that only this machine (the gateway) reaches the subgraphs. */
      HOST: z.string().min(1).default('127.0.0.1'),
      DATA_DIR: path('.data'),
      /** A snapshot of a service's state after this many log records, or this many bytes of log, whichever first. */
      SNAPSHOT_EVERY_RECORDS: positive(10_000),
      SNAPSHOT_EVERY_BYTES: positive(64 * 1024 * 1024),
    }),
  }),
);

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads the keys `spec` declares from the environment: parses every one,
 * reports every problem at once, and returns a frozen object.
 */
export const loadConfig = <T extends z.ZodRawShape>(spec: ConfigSpec<T>, env: NodeJS.ProcessEnv = process.env): ConfigOf<ConfigSpec<T>> => {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const production = present.NODE_ENV === 'production';
  const parsed = z.object(spec.keys({ production })).safeParse(present);
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => `  ${issue.path.join('.')}: ${issue.message}`);
  if (production) {
    for (const [key, why] of Object.entries(spec.requiredInProduction ?? {})) {
      if (present[key] === undefined) problems.push(`  ${key}: ${why}`);
    }
  }
  if (parsed.success) problems.push(...(spec.check?.(parsed.data, { production }) ?? []).map((problem) => `  ${problem}`));
  if (!parsed.success || problems.length) throw new ConfigError(`Invalid configuration:\n${problems.join('\n')}`);
  return Object.freeze(parsed.data) as ConfigOf<ConfigSpec<T>>;
};
