import { ApolloGateway, type SupergraphSdlHook } from '@apollo/gateway';
import { ApolloServer, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { ApolloServerPluginLandingPageLocalDefault } from '@apollo/server/plugin/landingPage/default';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { graphqlMetricsPlugin } from '../../lib/metrics';
import { isExposed, maskError } from './errors';
import type { GatewayMetrics } from './metrics';
import { createSignUpLimiter, signUpRateLimitPlugin, type CounterStore, type RateLimitOptions } from './rate-limit';
import { identitySigner } from '../../lib/service';
import type { Viewer } from '../../lib/viewer';
import { PolicySource, enforcingGateway } from './auth/enforce';
import { SubgraphSource } from './subgraph-source';

/** What every gateway request carries: see lib/service `RequestScope`. */
export interface GatewayContext extends BaseContext {
  readonly requestId: string;
  readonly clientIp: string;
  readonly logger: Logger;
  /** The caller, verified from their access token; undefined: anonymous. */
  readonly viewer: Viewer | undefined;
}

/** Bounds on one operation, enforced before anything runs: tokens by the parser, the rest by graphql-armor. */
export interface QueryLimits {
  readonly maxDepth: number;
  readonly maxAliases: number;
  readonly maxTokens: number;
  readonly maxCost: number;
  readonly maxDirectives: number;
}

export interface GatewayOptions {
  /** The supergraph SDL, or a hook that loads it and reports changes (hot reload). */
  readonly supergraph: string | SupergraphSdlHook;
  /** Subgraph name -> URL, overriding the routing URL composed into the supergraph. */
  readonly subgraphUrls: Readonly<Record<string, string | undefined>>;
  readonly production: boolean;
  /** Sent to every subgraph as `x-subgraph-secret`; also signs the caller's identity for them. */
  readonly secret?: string | undefined;
  /** Refuse whole any operation that asks for something the caller may not see, instead of answering the rest. */
  readonly rejectUnauthorized?: boolean;
  readonly subgraphTimeoutMs: number;
  /** Identical subgraph queries in flight at once share one call; off unless asked for. */
  readonly mergeInflightQueries?: boolean;
  readonly limits: QueryLimits;
  readonly signUpRate: RateLimitOptions;
  /** Where the sign-up counters live; unset: this process's memory. */
  readonly signUpCounters?: CounterStore;
  readonly logger: Logger;
  readonly metrics: GatewayMetrics;
}

export interface GatewayServer {
  readonly apollo: ApolloServer<GatewayContext>;
  /** Supergraph loaded and every subgraph answering; cached for a second, so probes cannot flood the subgraphs. */
  readonly ready: () => Promise<boolean>;
}

/** Logs every error a client receives; the ones masked in production at error level, with the request id. */
const errorLogPlugin = (): ApolloServerPlugin<GatewayContext> => ({
  async requestDidStart() {
    return {
      async didEncounterErrors({ errors, contextValue }) {
        for (const error of errors) {
          const code = error.extensions?.code;
          if (isExposed(code)) contextValue.logger.debug({ code, serviceName: error.extensions?.serviceName }, 'request refused');
          else contextValue.logger.error({ err: error.originalError ?? error, code, path: error.path }, 'unexpected error');
        }
      },
    };
  },
});

/**
 * An operation name that matches nothing, or several operations without one:
 * the gateway's executor would answer 500, so refuse it here as the client's mistake.
 */
const operationResolvedPlugin = (): ApolloServerPlugin<GatewayContext> => ({
  async requestDidStart() {
    return {
      async didResolveOperation({ operation, request }) {
        if (operation) return;
        const message = request.operationName
          ? `Unknown operation named "${request.operationName}".`
          : 'Must provide operation name if query contains multiple operations.';
        throw new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE', http: { status: 400 } } });
      },
    };
  },
});

const cached = (check: () => Promise<boolean>, ttlMs: number) => {
  let last: { at: number; value: Promise<boolean> } | undefined;
  return () => {
    if (!last || performance.now() - last.at > ttlMs) last = { at: performance.now(), value: check() };
    return last.value;
  };
};

/** The public endpoint: bounded operations, counted sign-ups, masked errors and no schema tour in production. */
export const createGatewayServer = (options: GatewayOptions): GatewayServer => {
  const { production, limits, logger, metrics } = options;
  // Unless this is set, @apollo/gateway probes the cloud metadata endpoints at start and sends Apollo the host's
  // OS, CPU and memory every hour. Nothing here asks for that; an operator who wants it sets it to `false`.
  process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';
  const policies = new PolicySource();
  const signIdentity = options.secret ? identitySigner(options.secret) : undefined;
  const gateway = new ApolloGateway({
    // What the gateway loads has no security features (it would refuse them); enforcingGateway enforces them.
    supergraphSdl: policies.wrap(options.supergraph),
    logger,
    // Its spans name operations, never their documents or variables; exceptions could quote input, so none are recorded.
    telemetry: { includeDocument: false, recordExceptions: false },
    buildService: ({ name, url }) =>
      new SubgraphSource({
        name,
        url: options.subgraphUrls[name] ?? url!,
        secret: options.secret,
        signIdentity,
        timeoutMs: options.subgraphTimeoutMs,
        mergeInflightQueries: options.mergeInflightQueries ?? false,
        onFailure: (subgraph, reason) => metrics.subgraphFailures.inc({ subgraph, reason }),
      }),
  });
  let loaded = false;
  gateway.onSchemaLoadOrUpdate(() => {
    loaded = true;
  });
  const armor = new ApolloArmor({
    maxDepth: { n: limits.maxDepth },
    maxAliases: { n: limits.maxAliases },
    // Apollo's own parser limit instead (`parseOptions`): armor's re-parses in a hook, and its refusals come back as 500s.
    maxTokens: { enabled: false },
    costLimit: { maxCost: limits.maxCost },
    maxDirectives: { n: limits.maxDirectives },
    // "Did you mean …?" tours the schema for whoever cannot introspect it.
    blockFieldSuggestion: { enabled: production },
  }).protect();
  const apollo = new ApolloServer<GatewayContext>({
    gateway: enforcingGateway(gateway, policies, options.rejectUnauthorized ?? false),
    nodeEnv: production ? 'production' : 'development',
    introspection: !production,
    includeStacktraceInErrorResponses: !production,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    validationRules: armor.validationRules,
    parseOptions: { maxTokens: limits.maxTokens },
    formatError: production ? maskError : undefined,
    logger,
    plugins: [
      production ? ApolloServerPluginLandingPageDisabled() : ApolloServerPluginLandingPageLocalDefault(),
      // No subgraph sends cache hints: the plugin would only compute a policy of "no caching" per request.
      ApolloServerPluginCacheControlDisabled(),
      ...(armor.plugins as ApolloServerPlugin<GatewayContext>[]),
      operationResolvedPlugin(),
      signUpRateLimitPlugin(createSignUpLimiter(options.signUpRate, options.signUpCounters), {
        field: 'addUser',
        perIp: options.signUpRate.perIp,
        onLimited: (scope) => metrics.signUpsRateLimited.inc({ scope }),
      }) as ApolloServerPlugin<GatewayContext>,
      errorLogPlugin(),
      graphqlMetricsPlugin<GatewayContext>(metrics),
    ],
    // The process owner (lib/run-main.ts) stops services in order on SIGINT/SIGTERM.
    stopOnTerminationSignals: false,
  });
  const ready = cached(async () => {
    if (!loaded) return false;
    try {
      await gateway.serviceHealthCheck();
      return true;
    } catch (error) {
      logger.warn({ err: error }, 'not ready: a subgraph does not answer');
      return false;
    }
  }, 1000);
  return { apollo, ready };
};
