import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { FetcherResponse } from '@apollo/utils.fetcher';
import { GraphQLError } from 'graphql';
import { Pool } from 'undici';
import { IDENTITY_HEADER, REQUEST_ID_HEADER, SUBGRAPH_SECRET_HEADER } from '../../lib/service';
import { injectTraceContext } from '../../lib/tracing';
import type { Viewer } from '../../lib/viewer';
import { GatewayErrorCode, subgraphUnavailable } from './errors';

export const SUBGRAPH_UNAVAILABLE = GatewayErrorCode.SUBGRAPH_UNAVAILABLE;

export interface SubgraphSourceOptions {
  readonly name: string;
  readonly url: string;
  /** Sent as `x-subgraph-secret` on every request, health checks included. */
  readonly secret?: string | undefined;
  /** The identity header for a signed-in caller; unset: subgraphs hear of no caller (they then treat everyone as anonymous). */
  readonly signIdentity?: ((viewer: Viewer) => string) | undefined;
  /** The whole call (connect, answer, body) must finish within this. */
  readonly timeoutMs: number;
  /** Told why each failed call failed: `timeout`, `unreachable`, `http_<status>`, `invalid_response`. */
  readonly onFailure?: (serviceName: string, reason: string) => void;
  /**
   * Identical queries in flight at the same time share one call (never
   * mutations); each caller still parses its own copy of the answer.
   */
  readonly mergeInflightQueries?: boolean;
}

/** A subgraph operation the query planner printed as a query (`query …` or `{ … }`), not a mutation. */
const isQuery = (document: string): boolean => /^\s*(?:query\b|\{)/.test(document);

/** What came back from a subgraph: enough of a fetch `Response` for Apollo's error and cache-control handling. */
interface SubgraphAnswer {
  readonly url: string;
  readonly status: number;
  readonly statusText: string;
  readonly ok: boolean;
  readonly headers: { get(name: string): string | null };
  text(): Promise<string>;
  json(): Promise<unknown>;
}

const answerOf = (url: string, status: number, headers: IncomingHttpHeaders, body: string): SubgraphAnswer => ({
  url,
  status,
  statusText: STATUS_CODES[status] ?? '',
  ok: status >= 200 && status < 300,
  headers: {
    get: (name) => {
      const value = headers[name.toLowerCase()];
      return value === undefined ? null : Array.isArray(value) ? value.join(', ') : value;
    },
  },
  text: async () => body,
  json: async () => JSON.parse(body) as unknown,
});

class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/** The connection failed or closed before an answer began: nothing came back, so a query may be sent again. */
const isUnanswered = (error: unknown): boolean => {
  const code = (error as { code?: string }).code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
};

/**
 * One POST over undici's connection pool, bounded as a whole (connect,
 * answer, body) by `timeoutMs`. undici instead of `http.request`: a small
 * subgraph call costs about half the CPU, and idle connections are retired
 * before the server's advertised keep-alive timeout.
 */
export const postJson = async (
  pool: Pool,
  { origin, path }: { origin: string; path: string },
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
): Promise<SubgraphAnswer> => {
  const abort = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    abort.abort();
  }, timeoutMs);
  try {
    const response = await pool.request({ path, method: 'POST', headers, body, signal: abort.signal });
    const text = await response.body.text();
    return answerOf(`${origin}${path}`, response.statusCode, response.headers as IncomingHttpHeaders, text);
  } catch (error) {
    throw timedOut ? new TimeoutError(`no answer within ${timeoutMs} ms`) : error;
  } finally {
    clearTimeout(timer);
  }
};

interface ContextWithRequestId {
  readonly requestId?: string;
  readonly viewer?: Viewer | undefined;
}

/** Identity headers are good for a minute; one is signed again when half of that has passed. */
const RESIGN_AFTER_MS = 30_000;

/** The socket error code (ECONNREFUSED, ECONNRESET, …): the part of a socket error that says what happened without addresses. */
const socketCode = (error: Error): string | undefined => {
  const { code, cause } = error as { code?: string; cause?: { code?: string } };
  const found = code ?? cause?.code;
  // undici's code for a connection the subgraph closed during the call.
  return found === 'UND_ERR_SOCKET' ? 'connection closed' : found;
};

type Processed = ReturnType<RemoteGraphQLDataSource['process']>;

/**
 * Calls one subgraph with the shared secret and the request id, over
 * keep-alive connections. When the call itself fails (refused, timed out, not
 * GraphQL), the error names the service, so a client sees which part of its
 * answer is missing and why; the message carries no addresses or bodies.
 *
 * `process` is RemoteGraphQLDataSource's, minus what this gateway does not
 * use (automatic persisted queries, subgraph cache hints) and minus the fetch
 * objects it built per call (Headers, a Request for error callbacks).
 */
export class SubgraphSource extends RemoteGraphQLDataSource<ContextWithRequestId> {
  private readonly serviceName: string;
  private readonly options: SubgraphSourceOptions;
  private readonly pool: Pool;
  private readonly target: { origin: string; path: string };
  private readonly inflight = new Map<string, Promise<SubgraphAnswer>>();
  /** Viewers come from the gateway's token cache, so one token's header is signed about twice a minute, not per call. */
  private readonly identities = new WeakMap<Viewer, { header: string; signedAt: number }>();

  constructor(options: SubgraphSourceOptions) {
    super({ url: options.url });
    this.serviceName = options.name;
    this.options = options;
    const url = new URL(options.url);
    this.target = { origin: url.origin, path: `${url.pathname}${url.search}` };
    this.pool = new Pool(url.origin);
  }

  override async process({ request, context, kind }: GraphQLDataSourceProcessOptions<ContextWithRequestId>): Processed {
    const { http, ...payload } = request;
    const headers: Record<string, string> = {};
    if (http?.headers) for (const [name, value] of http.headers) headers[name.toLowerCase()] = value;
    headers['content-type'] = 'application/json';
    if (this.options.secret) headers[SUBGRAPH_SECRET_HEADER] = this.options.secret;
    // Compared as a string: the enum is not exported from the package root.
    if (kind === 'incoming operation' && context.requestId) headers[REQUEST_ID_HEADER] = context.requestId;
    delete headers[IDENTITY_HEADER];
    if (kind === 'incoming operation' && context.viewer && this.options.signIdentity) headers[IDENTITY_HEADER] = this.identityOf(context.viewer);
    injectTraceContext(headers);
    if (!payload.query) throw new Error('Missing query');
    try {
      const sent = JSON.stringify(payload);
      const query = isQuery(payload.query);
      const post = () => postJson(this.pool, this.target, headers, sent, this.options.timeoutMs);
      // A connection that closed before any answer (a kept-alive one the subgraph just dropped): a query, never a mutation, is sent once more.
      const call = () => post().catch((error: unknown) => (query && isUnanswered(error) ? post() : Promise.reject(error)));
      const answer = (this.options.mergeInflightQueries && query ? await this.merged(sent, headers, call) : await call()) as unknown as FetcherResponse;
      if (!answer.ok) throw await this.errorFromResponse(answer);
      const body = await this.parseBody(answer);
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new Error('Expected JSON response body from the subgraph.');
      }
      return { ...body, http: answer };
    } catch (error) {
      this.didEncounterError(error as Error);
      throw error;
    }
  }

  private identityOf(viewer: Viewer): string {
    const now = performance.now();
    let signed = this.identities.get(viewer);
    if (!signed || now - signed.signedAt > RESIGN_AFTER_MS) {
      signed = { header: this.options.signIdentity!(viewer), signedAt: now };
      this.identities.set(viewer, signed);
    }
    return signed.header;
  }

  /** The call in flight for the same body and headers (request id and trace context aside), or a new one. */
  private merged(body: string, headers: Record<string, string>, call: () => Promise<SubgraphAnswer>): Promise<SubgraphAnswer> {
    const { [REQUEST_ID_HEADER]: _requestId, traceparent: _traceparent, tracestate: _tracestate, ...rest } = headers;
    const key = `${JSON.stringify(rest)}\n${body}`;
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = call().finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  override didEncounterError(error: Error): never {
    const name = this.serviceName;
    let failure: [message: string, reason: string];
    if (error.name === 'TimeoutError' || error.name === 'AbortError') {
      failure = [`The ${name} service did not answer within ${this.options.timeoutMs} ms.`, 'timeout'];
    } else if (error instanceof GraphQLError && typeof (error.extensions.response as { status?: unknown })?.status === 'number') {
      const status = (error.extensions.response as { status: number }).status;
      failure =
        status === 401
          ? [`The ${name} service refused the gateway's credentials (HTTP 401).`, 'http_401']
          : [`The ${name} service is unavailable: HTTP ${status}.`, `http_${status}`];
    } else if (error.message.startsWith('Expected JSON response body') || error instanceof SyntaxError) {
      failure = [`The ${name} service is unavailable: its answer is not GraphQL.`, 'invalid_response'];
    } else {
      failure = [`The ${name} service is unavailable: ${socketCode(error) ?? 'connection failed'}`, 'unreachable'];
    }
    this.options.onFailure?.(name, failure[1]);
    throw subgraphUnavailable(name, failure[0], failure[1], error);
  }
}
