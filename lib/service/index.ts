import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApolloServer, BaseContext } from '@apollo/server';
import { expressMiddleware } from '@as-integrations/express5';
import cors from 'cors';
import express from 'express';
import type { Logger } from 'pino';

export interface ListenOptions<C extends BaseContext> {
  readonly name: string;
  readonly apollo: ApolloServer<C>;
  readonly context: () => Promise<C>;
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
}

export interface RunningService {
  readonly url: string;
  readonly port: number;
  /** Stops accepting, lets requests in flight finish (up to `graceMs`), then runs `onStop`. */
  stop(graceMs?: number): Promise<void>;
}

const closeServer = (server: Server, graceMs: number) =>
  new Promise<void>((resolve) => {
    const force = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(force);
      resolve();
    });
    server.closeIdleConnections();
  });

/** Serves an Apollo server over Express 5 with health routes; resolves once listening. */
export const listenService = async <C extends BaseContext>(options: ListenOptions<C>): Promise<RunningService> => {
  const { name, apollo, host, port, path, logger } = options;
  await apollo.start();
  const app = express();
  app.disable('x-powered-by');
  app.get('/health/live', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/health/ready', async (_req, res) => {
    const ready = options.ready ? await options.ready() : true;
    res.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'not ready' });
  });
  app.use(path, cors(), express.json({ limit: '100kb' }), expressMiddleware(apollo, { context: options.context }));

  const server = createServer(app);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  const shown = host === undefined ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const url = `http://${shown}:${actual}${path}`;
  logger.info({ service: name, url }, `${name} listening`);
  let stopping: Promise<void> | undefined;
  return {
    url,
    port: actual,
    stop: (graceMs = 10_000) =>
      (stopping ??= (async () => {
        await closeServer(server, graceMs);
        await apollo.stop();
        await options.onStop?.();
        logger.info({ service: name }, `${name} stopped`);
      })()),
  };
};
