import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import proxyaddr from 'proxy-addr';
import type { Viewer } from '../viewer';

export const REQUEST_ID_HEADER = 'x-request-id';
export const SUBGRAPH_SECRET_HEADER = 'x-subgraph-secret';

/** What a request carries through the service: its id, a logger bound to it, the client's address. */
export interface RequestScope {
  readonly requestId: string;
  readonly logger: Logger;
  /** The client's address: the peer's, or X-Forwarded-For's as far as `trustProxy` allows. */
  readonly clientIp: string;
  /** Who the caller is, once the service's `identify` step has run; undefined: anonymous. */
  readonly viewer: Viewer | undefined;
  /** Aborted when the caller hangs up before its answer is sent (it gave up waiting). */
  readonly signal: AbortSignal;
}

/** A request refused before GraphQL runs: answered with `status` and a GraphQL-shaped error. */
export class RequestRefused extends Error {
  override readonly name = 'RequestRefused';

  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
    readonly extensions: Readonly<Record<string, unknown>> = {},
  ) {
    super(message);
  }
}

/** `trust proxy` as Express defines it: `true`, a hop count, or addresses, subnets and loopback/linklocal/uniquelocal. */
export type TrustProxy = boolean | number | string;

const SAFE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** The caller's request id when it is short and plain; a new one otherwise. */
export const requestIdFrom = (header: string | string[] | undefined): string =>
  typeof header === 'string' && SAFE_REQUEST_ID.test(header) ? header : randomUUID();

const trustedBy = (trust: TrustProxy): ((address: string, hop: number) => boolean) => {
  if (trust === true) return () => true;
  if (trust === false) return () => false;
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyaddr.compile(trust.split(',').map((part) => part.trim()));
};

/** The path of a request target, without its query string. */
export const pathOf = (url: string | undefined): string => {
  const target = url ?? '/';
  const query = target.indexOf('?');
  return query === -1 ? target : target.slice(0, query);
};

/**
 * A request's id and, made on first use, its child logger and client address:
 * most requests log only their last line, which names the request id itself.
 * The lazy parts are getters on the prototype because Apollo Server copies
 * each context with `Object.assign`, which would call getters of the object's own.
 */
class LazyScope implements RequestScope {
  /** Set once something asked for `logger`. */
  child: Logger | undefined;
  viewer: Viewer | undefined;
  private address: string | undefined;
  private hangUp: AbortController | undefined;

  constructor(
    readonly requestId: string,
    private readonly parent: Logger,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly trusted: (address: string, hop: number) => boolean,
  ) {}

  get signal(): AbortSignal {
    if (!this.hangUp) {
      const hangUp = (this.hangUp = new AbortController());
      const abort = () => {
        if (!this.res.writableFinished) hangUp.abort(new Error('the caller closed the connection before its answer'));
      };
      if (this.res.closed) abort();
      else this.res.once('close', abort);
    }
    return this.hangUp.signal;
  }

  get logger(): Logger {
    return (this.child ??= this.parent.child({ reqId: this.requestId }));
  }

  get clientIp(): string {
    return (this.address ??= this.req.socket.remoteAddress ? proxyaddr(this.req, this.trusted) : 'unknown');
  }
}

/** A request that takes this long is logged at info level whatever its status. */
export const SLOW_REQUEST_MS = 1000;

/**
 * Makes each request's scope, echoes its id, and logs one line when the
 * answer is sent: at info level when the status is 400 or more or the request
 * was slow, at debug level otherwise (a line per request cost a few percent of
 * the gateway's CPU).
 */
export const scopeRequest = (
  logger: Logger,
  trustProxy: TrustProxy,
): ((req: IncomingMessage, res: ServerResponse) => RequestScope & { viewer: Viewer | undefined }) => {
  const trusted = trustedBy(trustProxy);
  return (req, res) => {
    const scope = new LazyScope(requestIdFrom(req.headers[REQUEST_ID_HEADER]), logger, req, res, trusted);
    res.setHeader(REQUEST_ID_HEADER, scope.requestId);
    const started = performance.now();
    res.once('finish', () => {
      const ms = Math.round(performance.now() - started);
      const path = pathOf(req.url);
      // Probes and scrapes come every few seconds: only worth a line when debugging.
      const probe = path.startsWith('/health/') || path === '/metrics';
      const level = !probe && (res.statusCode >= 400 || ms >= SLOW_REQUEST_MS) ? 'info' : 'debug';
      if (!logger.isLevelEnabled(level)) return;
      const fields = { method: req.method, path, status: res.statusCode, ms };
      if (scope.child) scope.child[level](fields, 'request completed');
      else logger[level]({ reqId: scope.requestId, ...fields }, 'request completed');
    });
    return scope;
  };
};

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares in constant time: hashing first makes the lengths equal, so neither length nor content leaks. */
export const sameSecret = (given: string | undefined, expected: string): boolean =>
  given !== undefined && timingSafeEqual(digest(given), digest(expected));

/** `sameSecret` against one fixed secret, whose digest is computed once instead of per request. */
export const secretChecker = (expected: string): ((given: string | string[] | undefined) => boolean) => {
  const wanted = digest(expected);
  return (given) => typeof given === 'string' && timingSafeEqual(digest(given), wanted);
};

export const graphqlErrorBody = (message: string, code: string, extensions: Readonly<Record<string, unknown>> = {}) => ({
  errors: [{ message, extensions: { code, ...extensions } }],
});

export const sendJson = (res: ServerResponse, status: number, body: unknown): void => {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json; charset=utf-8');
  res.end(JSON.stringify(body));
};

/** An error from body-parser (or anything else a request handler threw). */
export interface HttpError {
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

/** Refusals and body-parser errors as GraphQL-shaped 4xx answers; anything else as a logged, masked 500. */
export const answerError = (error: HttpError, res: ServerResponse, logger: Logger, onRefused: (status: number) => void): void => {
  if (res.headersSent) {
    logger.error({ err: error }, 'request failed after its answer started');
    res.destroy();
    return;
  }
  if (error instanceof RequestRefused) {
    onRefused(error.status);
    logger.info({ status: error.status, code: error.code, ...error.extensions }, 'request refused');
    for (const [name, value] of Object.entries(error.headers)) res.setHeader(name, value);
    sendJson(res, error.status, graphqlErrorBody(error.message, error.code, error.extensions));
    return;
  }
  const status = error.status ?? error.statusCode ?? 500;
  onRefused(status);
  if (status >= 400 && status < 500) {
    logger.info({ status, type: error.type }, 'request refused');
    sendJson(res, status, graphqlErrorBody(clientMessage(error), status === 413 ? 'PAYLOAD_TOO_LARGE' : 'BAD_REQUEST'));
    return;
  }
  logger.error({ err: error }, 'request failed');
  sendJson(res, 500, graphqlErrorBody('Internal server error.', 'INTERNAL_SERVER_ERROR'));
};
