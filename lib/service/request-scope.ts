import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import proxyaddr from 'proxy-addr';
import type { Viewer } from '../viewer';

export const REQUEST_ID_HEADER = 'x-request-id';

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
