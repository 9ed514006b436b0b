import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApolloServer, BaseContext } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import cors, { type CorsOptions } from 'cors';
import express, { type Request, type Response } from 'express';
import type { Logger } from 'pino';
import { METRICS_CONTENT_TYPE, renderMetrics, type ServiceMetrics } from '../metrics';
import { ensureBody, errorHandler, requestScope, requireSecret, sameSecret, scopeOf, type RequestScope } from './middleware';


export interface ListenOptions<C extends BaseContext> {
  readonly name: string;
  readonly apollo: ApolloServer<C>;
  /** Builds the context of one GraphQL request. */
  readonly context: (scope: RequestScope, req: Request) => Promise<C>;
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
  /** Express's `trust proxy`: whether X-Forwarded-For names the client. */
  readonly trustProxy?: boolean | number | string;
  /** Served at `GET /metrics` when set. */
  readonly metrics?: ServiceMetrics;
  /** Set: `/metrics` demands `Authorization: Bearer <token>`. */
  readonly metricsToken?: string | undefined;
}

export interface RunningService {
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish (up to `graceMs`), then runs `onStop`. */
  stop(graceMs?: number): Promise<void>;
}

/** Serves an Apollo server over Express 5 with health and metrics routes; resolves once listening. */
export const listenService = async <C extends BaseContext>(options: ListenOptions<C>): Promise<RunningService> => {
  const { name, apollo, host, port, path, logger, metrics } = options;
  await apollo.start();
  let stopping = false;
  const active = new Set<Response>();
  let server: Server | undefined;

  const app = express();
  app.disable('x-powered-by');
  // Express hashes every body it sends to make an ETag: no client of a GraphQL POST revalidates with one.
  app.set('etag', false);
  app.set('trust proxy', options.trustProxy ?? false);
  app.use(requestScope(logger.child({ service: name })));
  app.use((_req, res, next) => {
    active.add(res);
    res.once('close', () => active.delete(res));
    res.once('finish', () => {
      active.delete(res);
      // While stopping, a keep-alive connection that just went idle is closed at once.
      if (stopping) setImmediate(() => server?.closeIdleConnections());
    });
    if (stopping) res.setHeader('connection', 'close');
    next();
  });
  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    let ready = !stopping;
    try {
      if (ready && options.ready) ready = await options.ready();
    } catch (error) {
      scopeOf(res).logger.warn({ err: error }, 'readiness check failed');
      ready = false;
    }
    res.status(ready ? 200 : 503).json({ status: stopping ? 'stopping' : ready ? 'ready' : 'not ready' });
  });
  if (metrics) {
    app.get('/metrics', async (req, res) => {
      if (options.metricsToken && !sameSecret(req.headers.authorization?.replace(/^Bearer /, ''), options.metricsToken)) {
        res.status(401).type('text/plain').send('Unauthorized\n');
        return;
      }
      res.type(METRICS_CONTENT_TYPE).send(await renderMetrics(metrics));
    });
  }
  const refused = (status: number) => metrics?.httpRefusals.inc({ status: String(status) });
  app.use(
    path,
    ...(options.secret ? [requireSecret(options.secret, () => refused(401))] : []),
    ...(options.cors ? [cors(options.cors)] : []),
    express.json({ limit: options.maxBodyBytes ?? 1024 * 1024 }),
    ensureBody,
    expressMiddleware(apollo, { context: ({ req, res }) => options.context(scopeOf(res), req) }),
  );
  app.use(errorHandler(refused));

  const http = createServer(app);
  server = http;
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => resolve());
  });
  const actual = (http.address() as AddressInfo).port;
  const shown = host === undefined ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${actual}${path}`;
  logger.info({ service: name, url }, `${name} listening`);

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
