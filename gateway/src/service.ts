import { httpLimitsOf } from '../../lib/config';
import { gatewayHost, type GatewayConfig } from './config';
import type { Logger } from '../../lib/logger';
import { createPool, databaseUnreachable } from '../../lib/postgres';
import { listenService, type RunningService } from '../../lib/service';
import { createIdentify } from './auth/identify';
import { offlineGraphiql } from './graphiql';
import { createGatewayMetrics, type GatewayMetrics } from './metrics';
import { postgresCounters, type CounterStore } from './rate-limit';
import { createGatewayServer } from './server';
import { supergraphFromFile } from './supergraph-file';
import { startTracing } from '../../lib/tracing';

/** Cross-origin access: the configured origins; any origin in development when none are configured. */
const corsOrigin = (config: GatewayConfig): boolean | string[] => {
  const origins = config.CORS_ORIGINS;
  if (origins?.includes('*')) return true;
  if (origins?.length) return origins;
  return config.NODE_ENV !== 'production';
};

/** With `DATABASE_URL`, the sign-up counters every gateway replica shares; otherwise none (memory). */
const sharedCounters = async (
  url: string | undefined,
  logger: Logger,
  metrics: GatewayMetrics,
): Promise<{ counters?: CounterStore; close(): Promise<void> }> => {
  if (!url) return { close: async () => undefined };
  // Short timeouts: while the database is away a sign-up must not wait on its counter.
  const pool = createPool({ url, logger, maxConnections: 4, timeoutMs: 1_000 });
  try {
    const shared = await postgresCounters(pool, { logger, onFallback: (reason) => metrics.signUpsCountedInMemory.inc({ reason }) });
    return {
      counters: shared.counters,
      close: async () => {
        shared.close();
        await pool.end();
      },
    };
  } catch (error) {
    await pool.end();
    throw databaseUnreachable(url, error, "count sign-ups in each gateway's memory");
  }
};

/**
 * Serves the public endpoint from the supergraph file, following changes to it. `subgraphUrls`, by
 * subgraph name, override the routing URLs the supergraph holds.
 */
export const startGateway = async (config: GatewayConfig, logger: Logger, subgraphUrls: Readonly<Record<string, string>> = {}): Promise<RunningService> => {
  const metrics = createGatewayMetrics();
  // Global: @apollo/gateway's own spans (request, plan, execute, fetch) go through the OpenTelemetry API's provider.
  const tracing = await startTracing(config, 'gateway', logger, { global: true });
  const shared = await sharedCounters(config.DATABASE_URL, logger, metrics).catch(async (error: unknown) => {
    await tracing.shutdown();
    throw error;
  });
  const stopped = async () => {
    await shared.close();
    await tracing.shutdown();
  };
  const { identify, warmUp } = createIdentify(config, logger);
  // Not awaited: an issuer that is down at start is looked up again when the first token arrives.
  void warmUp();
  const { apollo, ready } = createGatewayServer({
    supergraph: supergraphFromFile({
      file: config.SUPERGRAPH_PATH,
      logger,
      onReload: (result) => metrics.supergraphReloads.inc({ result }),
    }),
    subgraphUrls,
    production: config.NODE_ENV === 'production',
    secret: config.SUBGRAPH_SECRET,
    rejectUnauthorized: config.AUTH_REJECT_UNAUTHORIZED,
    subgraphTimeoutMs: config.SUBGRAPH_TIMEOUT_MS,
    mergeInflightQueries: config.SUBGRAPH_MERGE_QUERIES === 'on',
    limits: {
      maxDepth: config.MAX_QUERY_DEPTH,
      maxAliases: config.MAX_QUERY_ALIASES,
      maxTokens: config.MAX_QUERY_TOKENS,
      maxCost: config.MAX_QUERY_COST,
      maxDirectives: config.MAX_QUERY_DIRECTIVES,
    },
    signUpRate: { perIp: config.SIGNUP_RATE_PER_IP, global: config.SIGNUP_RATE_GLOBAL, windowMs: config.SIGNUP_RATE_WINDOW_MS, ipv6Prefix: config.SIGNUP_RATE_IPV6_PREFIX },
    ...(shared.counters ? { signUpCounters: shared.counters } : {}),
    logger,
    metrics,
  });
  try {
    return await listenService({
      name: 'gateway',
      onStop: stopped,
      apollo,
      // The scope itself: its logger and client address are made only if something asks for them.
      context: async (scope) => scope,
      identify,
      host: gatewayHost(config),
      port: config.GATEWAY_PORT,
      path: '/',
      logger,
      ready,
      cors: { origin: corsOrigin(config), exposedHeaders: ['x-request-id', 'retry-after'], maxAge: 600 },
      maxBodyBytes: config.MAX_BODY_BYTES,
      trustProxy: config.TRUST_PROXY,
      metrics,
      metricsToken: config.METRICS_TOKEN,
      limits: httpLimitsOf(config),
      tracer: tracing.tracer,
      // Production serves no IDE: no Sandbox (the landing page is off) and no GraphiQL.
      ...(config.NODE_ENV === 'production' ? {} : { staticFiles: offlineGraphiql(logger) }),
    });
  } catch (error) {
    await stopped();
    throw error;
  }
};
