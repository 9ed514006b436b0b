import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { Fetcher } from '@apollo/utils.fetcher';
import { GraphQLError } from 'graphql';
import fetch from 'node-fetch';
import { REQUEST_ID_HEADER, SUBGRAPH_SECRET_HEADER } from '../../lib/service';
import { GatewayErrorCode, subgraphUnavailable } from './errors';

export const SUBGRAPH_UNAVAILABLE = GatewayErrorCode.SUBGRAPH_UNAVAILABLE;

export interface SubgraphSourceOptions {
  readonly name: string;
  readonly url: string;
  /** Sent as `x-subgraph-secret` on every request, health checks included. */
  readonly secret?: string | undefined;
  /** The whole call (connect, answer, body) must finish within this. */
  readonly timeoutMs: number;
  /** Told why each failed call failed: `timeout`, `unreachable`, `http_<status>`, `invalid_response`. */
  readonly onFailure?: (serviceName: string, reason: string) => void;
}

/**
 * node-fetch (what @apollo/gateway itself uses) over keep-alive agents:
 * connections to a subgraph are reused instead of opened per call, which is
 * most of a gateway's throughput on small queries.
 */
const timedFetcher = (timeoutMs: number): Fetcher => {
  const http = new HttpAgent({ keepAlive: true });
  const https = new HttpsAgent({ keepAlive: true });
  return (url, init) =>
    fetch(url, {
      ...init,
      agent: (parsed) => (parsed.protocol === 'https:' ? https : http),
      signal: AbortSignal.timeout(timeoutMs),
    }) as never;
};

interface ContextWithRequestId {
  readonly requestId?: string;
}

/** The socket error code (ECONNREFUSED, ECONNRESET, …): the part of a fetch error that says what happened without addresses. */
const socketCode = (error: Error): string | undefined => {
  const { code, cause } = error as { code?: string; cause?: { code?: string } };
  return code ?? cause?.code;
};

/**
 * Calls one subgraph with the shared secret and the request id. When the call
 * itself fails (refused, timed out, not GraphQL), the error names the service,
 * so a client sees which part of its answer is missing and why; the message
 * carries no addresses or bodies.
 */
export class SubgraphSource extends RemoteGraphQLDataSource<ContextWithRequestId> {
  private readonly serviceName: string;
  private readonly options: SubgraphSourceOptions;

  constructor(options: SubgraphSourceOptions) {
    super({ url: options.url, fetcher: timedFetcher(options.timeoutMs) });
    this.serviceName = options.name;
    this.options = options;
  }

  override willSendRequest({ request, context, kind }: GraphQLDataSourceProcessOptions<ContextWithRequestId>): void {
    // Compared as a string: the enum is not exported from the package root.
    const headers = request.http!.headers;
    if (this.options.secret) headers.set(SUBGRAPH_SECRET_HEADER, this.options.secret);
    if (kind === 'incoming operation' && context.requestId) headers.set(REQUEST_ID_HEADER, context.requestId);
  }

  override didEncounterError(error: Error): void {
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
    } else if (error.message.startsWith('Expected JSON response body')) {
      failure = [`The ${name} service is unavailable: its answer is not GraphQL.`, 'invalid_response'];
    } else {
      failure = [`The ${name} service is unavailable: ${socketCode(error) ?? 'connection failed'}`, 'unreachable'];
    }
    this.options.onFailure?.(name, failure[1]);
    throw subgraphUnavailable(name, failure[0], failure[1], error);
  }
}
