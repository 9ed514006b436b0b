import type { ApolloServer, BaseContext } from '@apollo/server';
import { httpLimitsOf, type ConfigOf, type subgraphConfig } from '../config';
import { openLogBackend, type LogBackend } from '../log';
import type { Logger } from '../logger';
import { createAppendHistogram, createServiceMetrics, graphqlMetricsPlugin, type ServiceMetrics } from '../metrics';
import { openStore, type SnapshotCodec, type Store } from '../store';
import { startTracing, type Tracer } from '../tracing';
import type { Viewer } from '../viewer';
import { IDENTITY_HEADER, identityReader } from './identity';
import { listenService, type RunningService } from './listen';
import { RequestRefused } from './answers';
import type { RequestScope } from './request-scope';
import type { SubgraphServerOptions } from './subgraph-server';

type SubgraphConfig = ConfigOf<typeof subgraphConfig>;

/**
 * A request's logger, made only if a resolver asks for it, and its viewer.
 * Getters on the prototype: Apollo Server copies each context with
 * `Object.assign`, which calls the getters an object holds itself.
 */
class RequestParts {
  constructor(private readonly scope: RequestScope) {}

  get logger(): Logger {
    return this.scope.logger;
  }

  get viewer(): Viewer | undefined {
    return this.scope.viewer;
  }

  get signal(): AbortSignal {
    return this.scope.signal;
  }
}

/** The caller the gateway names in the identity header; a header it did not sign is refused. */
const identifyByHeader = (subgraphSecret: string | undefined) => {
  const read = identityReader(subgraphSecret);
  return async (req: { headers: Record<string, string | string[] | undefined> }) => {
    const check = read(req.headers[IDENTITY_HEADER]);
    if (!check.ok) throw new RequestRefused(401, 'UNAUTHENTICATED', `This service trusts only the gateway: ${check.reason}.`);
    return check.viewer;
  };
};

/** What every subgraph's resolvers are given at least: the request's logger, caller, and hang-up signal. */
type SubgraphContext = BaseContext & { readonly logger: Logger; readonly viewer?: Viewer | undefined; readonly signal?: AbortSignal | undefined };

/** What a subgraph makes of its open store: its server, its resolvers' context, and what it runs beside them. */
export interface SubgraphParts<C extends SubgraphContext> {
  readonly createServer: (options: SubgraphServerOptions<C>) => ApolloServer<C>;
  /** The context every request shares; each request gets its own logger on top. */
  readonly context: C;
  /** Unset: ready once the store is open. */
  readonly ready?: () => boolean | Promise<boolean>;
  /** Stops what `build` started (consumers, workers); runs before the store closes. */
  readonly stop?: () => Promise<void>;
}

export interface SubgraphDefinition<S extends object, E, C extends SubgraphContext> {
  /** The service's name: its stream, its logger's and its metrics' `service`. */
  readonly name: string;
  readonly port: number;
  /** The services that read this one's stream (their consumer names). */
  readonly readers?: readonly string[];
  readonly initial: S;
  readonly codec?: SnapshotCodec<S>;
  readonly build: (open: { store: Store<S, E>; backend: LogBackend; logger: Logger; metrics: ServiceMetrics; tracer: Tracer }) => SubgraphParts<C> | Promise<SubgraphParts<C>>;
}

/**
 * Starts a subgraph: its metrics, its log backend (files, or PostgreSQL with
 * `DATABASE_URL`), its store (snapshot + replay), what `build` makes of it,
 * then HTTP. `onFatal` hears of a log that can no longer be written. Whatever
 * was opened is closed again if a later step fails.
 */
export const startSubgraph = async <S extends object, E, C extends SubgraphContext>(
  config: SubgraphConfig,
  baseLogger: Logger,
  onFatal: ((error: Error) => void) | undefined,
  { name, port, readers = [], initial, codec, build }: SubgraphDefinition<S, E, C>,
): Promise<RunningService> => {
  const logger = baseLogger.child({ service: name });
  const metrics = createServiceMetrics(name);
  const appends = createAppendHistogram(metrics);
  const closing: (() => Promise<void>)[] = [];
  const close = async () => {
    for (const step of closing.splice(0).reverse()) await step();
  };
  try {
    const { tracer, shutdown } = await startTracing(config, name, logger);
    closing.push(shutdown);
    const backend = await openLogBackend(config, logger);
    closing.push(() => backend.close());
    const store = await openStore<S, E>({
      backend,
      stream: name,
      readers,
      initial,
      ...(codec ? { codec } : {}),
      logger,
      onFailure: onFatal,
      snapshotEvery: { records: config.SNAPSHOT_EVERY_RECORDS, bytes: config.SNAPSHOT_EVERY_BYTES },
      onAppend: (seconds) => appends.observe(seconds),
      tracer,
      spanAttributes: config.DATABASE_URL ? { 'db.system.name': 'postgresql' } : { 'log.backend': 'file' },
    });
    closing.push(() => store.close());
    const parts = await build({ store, backend, logger, metrics, tracer });
    if (parts.stop) closing.push(parts.stop);
    // Each request's own logger and viewer replace the service's.
    const { logger: _serviceLogger, viewer: _viewer, signal: _signal, ...shared } = parts.context;
    return await listenService({
      name,
      apollo: parts.createServer({ production: config.NODE_ENV === 'production', plugins: [graphqlMetricsPlugin(metrics)] }),
      // The request's logger is made only if a resolver asks for it.
      context: async (scope) => Object.assign(new RequestParts(scope), shared) as unknown as C,
      identify: identifyByHeader(config.SUBGRAPH_SECRET),
      ready: parts.ready ?? (() => true),
      host: config.HOST,
      port,
      path: '/graphql',
      // listenService binds the service name itself.
      logger: baseLogger,
      secret: config.SUBGRAPH_SECRET,
      metrics,
      metricsToken: config.METRICS_TOKEN,
      limits: httpLimitsOf(config),
      tracer,
      onStop: close,
    });
  } catch (error) {
    await close();
    throw error;
  }
};
