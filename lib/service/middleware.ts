import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';

export const REQUEST_ID_HEADER = 'x-request-id';
export const SUBGRAPH_SECRET_HEADER = 'x-subgraph-secret';

/** What a request carries through the service: its id, a logger bound to it, the client's address. */
export interface RequestScope {
  readonly requestId: string;
  readonly logger: Logger;
  /** The client's address, as Express sees it (`trust proxy` decides whether X-Forwarded-For counts). */
  readonly clientIp: string;
}

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request id when it is short and plain; a new one otherwise. */
export const requestIdFrom = (header: string | string[] | undefined): string =>
  typeof header === 'string' && SAFE_REQUEST_ID.test(header) ? header : randomUUID();

export const scopeOf = (res: Response): RequestScope => res.locals.scope as RequestScope;

/**
 * Binds a request id and a child logger to each request, echoes the id, and
 * logs one line when it ends. The child logger and the client's address are
 * made on first use: most requests log only their last line, which names the
 * request id itself.
 */
export const requestScope =
  (logger: Logger): RequestHandler =>
  (req, res, next) => {
    const requestId = requestIdFrom(req.headers[REQUEST_ID_HEADER]);
    let child: Logger | undefined;
    let clientIp: string | undefined;
    const scope: RequestScope = {
      requestId,
      get logger() {
        return (child ??= logger.child({ reqId: requestId }));
      },
      get clientIp() {
        return (clientIp ??= req.ip ?? 'unknown');
      },
    };
    res.locals.scope = scope;
    res.setHeader(REQUEST_ID_HEADER, requestId);
    const started = performance.now();
    res.once('finish', () => {
      const path = req.originalUrl.split('?')[0];
      const fields = { method: req.method, path, status: res.statusCode, ms: Math.round(performance.now() - started) };
      const [target, line] = child ? [child, fields] : [logger, { reqId: requestId, ...fields }];
      // Probes and scrapes come every few seconds: only worth a line when debugging.
      if (path?.startsWith('/health/') || path === '/metrics') target.debug(line, 'request completed');
      else target.info(line, 'request completed');
    });
    next();
  };

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares in constant time: hashing first makes the lengths equal, so neither length nor content leaks. */
export const sameSecret = (given: string | undefined, expected: string): boolean =>
  given !== undefined && timingSafeEqual(digest(given), digest(expected));

/** `sameSecret` against one fixed secret, whose digest is computed once instead of per request. */
export const secretChecker = (expected: string): ((given: string | undefined) => boolean) => {
  const wanted = digest(expected);
  return (given) => given !== undefined && timingSafeEqual(digest(given), wanted);
};

const graphqlErrorBody = (message: string, code: string) => ({ errors: [{ message, extensions: { code } }] });

/** Refuses, with 401, every request that does not carry the shared secret. */
export const requireSecret =
  (secret: string, onRefused: () => void): RequestHandler => {
  const matches = secretChecker(secret);
  return (req, res, next) => {
    const given = req.headers[SUBGRAPH_SECRET_HEADER];
    if (matches(typeof given === 'string' ? given : undefined)) return next();
    onRefused();
    scopeOf(res).logger.warn({ clientIp: scopeOf(res).clientIp }, 'request without the subgraph secret refused');
    res.status(401).json(graphqlErrorBody(`This service answers only the gateway: missing or wrong ${SUBGRAPH_SECRET_HEADER} header.`, 'UNAUTHENTICATED'));
  };
};

/**
 * Express 5 leaves `req.body` unset when no parser matched (a `text/plain`
 * form post, say); Apollo's integration would answer that with a 500. An empty
 * body lets Apollo apply its own rules: CSRF prevention, then content type.
 */
export const ensureBody: RequestHandler = (req, _res, next) => {
  (req as Request & { body: unknown }).body ??= {};
  next();
};

interface HttpError {
  status?: number;
  statusCode?: number;
  type?: string;
  message?: string;
  limit?: number;
}

const clientMessage = (error: HttpError): string => {
  switch (error.type) {
    case 'entity.parse.failed':
      return 'The request body is not valid JSON.';
    case 'entity.too.large':
      return `The request body is larger than the limit of ${error.limit} bytes.`;
    case 'charset.unsupported':
    case 'encoding.unsupported':
      return `${error.message ?? 'Unsupported encoding'}.`;
    case 'request.aborted':
    case 'request.size.invalid':
      return 'The request body was cut short.';
    default:
      return 'Bad request.';
  }
};

/** Body-parser refusals as GraphQL-shaped 4xx answers; anything else as a logged, masked 500. */
export const errorHandler =
  (onRefused: (status: number) => void): ErrorRequestHandler =>
  (error: HttpError, _req, res, next) => {
    if (res.headersSent) return next(error);
    const status = error.status ?? error.statusCode ?? 500;
    const logger = scopeOf(res)?.logger;
    onRefused(status);
    if (status >= 400 && status < 500) {
      logger?.info({ status, type: error.type }, 'request refused');
      res.status(status).json(graphqlErrorBody(clientMessage(error), status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST'));
      return;
    }
    logger?.error({ err: error }, 'request failed');
    res.status(500).json(graphqlErrorBody('Internal server error.', 'INTERNAL_SERVER_ERROR'));
  };
