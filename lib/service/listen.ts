import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';
import bodyParser from 'body-parser';
import cors, { type CorsOptions } from 'cors';
import type { Logger } from 'pino';
import type { HttpLimits } from '../config';
import type { Viewer } from '../viewer';
import { METRICS_CONTENT_TYPE, renderMetrics, type ServiceMetrics } from '../metrics';
import { answerError, graphqlErrorBody, sendJson, type HttpError } from './answers';
import { pathOf, scopeRequest, type RequestScope, type TrustProxy } from './request-scope';
import { SUBGRAPH_SECRET_HEADER, sameSecret, secretChecker } from './secret';
import { staticFilesHandler, underRoute, type StaticFiles } from './static-files';
import { callerContext, inSpan, SpanKind, tracingOff, type Tracer } from '../tracing';

export interface ListenOptions<C extends BaseContext> {
  readonly name: string;
  readonly apollo: ApolloServer<C>;
  /** Builds the context of one GraphQL request. */
  readonly context: (scope: RequestScope) => Promise<C>;
  /**
   * Who the caller of a GraphQL request is (undefined: anonymous), before
   * GraphQL runs; a `RequestRefused` it throws is the answer. Unset: everyone is anonymous.
   */
  readonly identify?: (req: IncomingMessage) => Promise<Viewer | undefined>;
  /** Unset: every interface. */
  readonly host: string | undefined;
  readonly port: number;
  /** Where GraphQL is served. */
  readonly path: string;
  readonly logger: Logger;
  /** Whether the service can take traffic (state loaded, dependencies reachable). */
  readonly ready?: () => boolean | Promise<boolean>;
  /** Called by `stop()` after the HTTP server stopped accepting requests. */
  readonly onStop?: () => Promise<void>;
  /** Set: GraphQL requests without this value in `x-subgraph-secret` are refused with 401. */
  readonly secret?: string | undefined;
  /** Cross-origin access to GraphQL; unset: no CORS headers, so browsers keep other origins out. */
  readonly cors?: CorsOptions;
  /** Largest JSON body accepted, in bytes (default 1 MiB). */
  readonly maxBodyBytes?: number;
  /** Whether X-Forwarded-For names the client, as Express's `trust proxy` setting. */
  readonly trustProxy?: TrustProxy;
  /** Served at `GET /metrics` when set. */
  readonly metrics?: ServiceMetrics;
  /** Set: `/metrics` demands `Authorization: Bearer <token>`. */
  readonly metricsToken?: string | undefined;
  /** How long clients may take and how many sockets may be open. */
  readonly limits: HttpLimits;
  /** Each GraphQL request is a server span, continuing the caller's `traceparent`. */
  readonly tracer?: Tracer;
  /** A built web app served beside GraphQL (GET and HEAD only). */
  readonly staticFiles?: StaticFiles;
}

export interface RunningService {
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish (up to `graceMs`), then runs `onStop`. */
  stop(graceMs?: number): Promise<void>;
}

type Next = (error?: unknown) => void;

/**
 * Serves an Apollo server on Node's own HTTP server, as Apollo's standalone
 * server does (CORS and JSON bodies by the same libraries Express uses, but
 * no router: a request costs noticeably less CPU), with health and metrics
 * routes; resolves once listening.
 */
export const listenService = async <C extends BaseContext>(options: ListenOptions<C>): Promise<RunningService> => {
  const { name, apollo, host, port, path, logger, metrics, tracer = tracingOff.tracer } = options;
  await apollo.start();
  let stopping = false;
  const active = new Set<ServerResponse>();
  let server: Server | undefined;
  const serviceLogger = logger.child({ service: name });
  const scopeOf = scopeRequest(serviceLogger, options.trustProxy ?? false);
  const refused = (status: number) => metrics?.httpRefusals.inc({ status: String(status) });
  const matchesSecret = options.secret ? secretChecker(options.secret) : undefined;
  const allowCors = options.cors ? cors(options.cors) : (_req: IncomingMessage, _res: ServerResponse, next: Next) => next();
  const parseJson = bodyParser.json({ limit: options.maxBodyBytes ?? 1024 * 1024 });
  const { staticFiles } = options;
  const serveStaticFiles = staticFiles ? staticFilesHandler(staticFiles) : undefined;
  const notFound = (res: ServerResponse, message: string) => sendJson(res, 404, graphqlErrorBody(message, 'NOT_FOUND'));

  const ready = async (scope: RequestScope, res: ServerResponse) => {
    let isReady = !stopping;
    try {
      if (isReady && options.ready) isReady = await options.ready();
    } catch (error) {
      scope.logger.warn({ err: error }, 'readiness check failed');
      isReady = false;
    }
    sendJson(res, isReady ? 200 : 503, { status: stopping ? 'stopping' : isReady ? 'ready' : 'not ready' });
  };

  const serveMetrics = async (req: IncomingMessage, res: ServerResponse, served: ServiceMetrics) => {
    if (options.metricsToken && !sameSecret(req.headers.authorization?.replace(/^Bearer /, ''), options.metricsToken)) {
      res.statusCode = 401;
      res.setHeader('content-type', 'text/plain; charset=utf-8');
      res.end('Unauthorized\n');
      return;
    }
    const text = await renderMetrics(served);
    res.setHeader('content-type', METRICS_CONTENT_TYPE);
    res.end(text);
  };

  const graphql = async (req: IncomingMessage & { body?: unknown }, res: ServerResponse, scope: RequestScope & { viewer: Viewer | undefined }) => {
    if (options.identify) scope.viewer = await options.identify(req);
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const url = req.url ?? '/';
    const answer = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: {
        method: req.method?.toUpperCase() ?? 'GET',
        headers,
        search: url.slice(pathOf(url).length),
        // No parser matched (a `text/plain` form post, say): an empty body lets Apollo apply its own rules, CSRF prevention first.
        body: req.body ?? {},
      },
      context: () => options.context(scope),
    });
    for (const [key, value] of answer.headers) res.setHeader(key, value);
    res.statusCode = answer.status ?? 200;
    if (answer.body.kind === 'complete') {
      res.end(answer.body.string);
      return;
    }
    for await (const chunk of answer.body.asyncIterator) res.write(chunk);
    res.end();
  };

  const traced = (req: IncomingMessage, res: ServerResponse, scope: RequestScope & { viewer: Viewer | undefined }) =>
    inSpan(
      tracer,
      `${req.method} ${path}`,
      { kind: SpanKind.SERVER, attributes: { 'http.request.method': req.method ?? 'GET', 'http.route': path } },
      async (span) => {
        await graphql(req, res, scope);
        span.setAttribute('http.response.status_code', res.statusCode);
      },
      callerContext(req.headers),
    );

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const scope = scopeOf(req, res);
    active.add(res);
    res.once('close', () => active.delete(res));
    res.once('finish', () => {
      active.delete(res);
      // While stopping, a keep-alive connection that just went idle is closed at once.
      if (stopping) setImmediate(() => server?.closeIdleConnections());
    });
    if (stopping) res.setHeader('connection', 'close');
    const fail = (error: unknown) => answerError(error as HttpError, res, scope.logger, refused);
    const route = pathOf(req.url);
    const read = req.method === 'GET' || req.method === 'HEAD';
    if (route === path) {
      if (matchesSecret && !matchesSecret(req.headers[SUBGRAPH_SECRET_HEADER])) {
        refused(401);
        scope.logger.warn({ clientIp: scope.clientIp }, 'request without the subgraph secret refused');
        sendJson(res, 401, graphqlErrorBody(`This service answers only the gateway: missing or wrong ${SUBGRAPH_SECRET_HEADER} header.`, 'UNAUTHENTICATED'));
        return;
      }
      allowCors(req, res, (error?: unknown) => {
        if (error) return fail(error);
        parseJson(req, res, (error?: unknown) => {
          if (error) return fail(error);
          traced(req, res, scope).catch(fail);
        });
      });
    } else if (read && route === '/health/live') {
      sendJson(res, 200, { status: 'ok' });
    } else if (read && route === '/health/ready') {
      ready(scope, res).catch(fail);
    } else if (read && route === '/metrics' && metrics) {
      serveMetrics(req, res, metrics).catch(fail);
    } else if (read && serveStaticFiles && staticFiles && underRoute(staticFiles, route)) {
      serveStaticFiles(req, res, route, (message) => notFound(res, message));
    } else {
      notFound(res, `Nothing is served at ${req.method} ${route}; GraphQL is at ${path}.`);
    }
  };

  const { headersTimeoutMs, requestTimeoutMs, keepAliveTimeoutMs, maxConnections } = options.limits;
  const http = createServer(
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: requestTimeoutMs,
      keepAliveTimeout: keepAliveTimeoutMs,
      // Node looks for expired headers and requests this often (30 s by default, longer than the timeouts themselves).
      connectionsCheckingInterval: Math.min(1_000, headersTimeoutMs),
    },
    handle,
  );
  http.maxConnections = maxConnections;
  server = http;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  const actual = (http.address() as AddressInfo).port;
  const shown = host === undefined ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${actual}${path}`;
  serviceLogger.info({ url }, `${name} listening`);

  const closeServer = (graceMs: number) =>
    new Promise<void>((resolve) => {
      stopping = true;
      for (const res of active) if (!res.headersSent) res.setHeader('connection', 'close');
      const force = setTimeout(() => {
        if (active.size) logger.warn({ service: name, inFlight: active.size, graceMs }, 'grace period over; closing connections');
        http.closeAllConnections();
      }, graceMs);
      http.close(() => {
        clearTimeout(force);
        resolve();
      });
      http.closeIdleConnections();
    });

  let stopped: Promise<void> | undefined;
  return {
    url,
    port: actual,
    stop: (graceMs = 10_000) =>
      (stopped ??= (async () => {
        logger.info({ service: name, inFlight: active.size }, `${name} stopping`);
        await closeServer(graceMs);
        await apollo.stop();
        await options.onStop?.();
        logger.info({ service: name }, `${name} stopped`);
      })()),
  };
};
