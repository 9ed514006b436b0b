import { HeaderMap } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';

/** Codes of the errors the gateway raises on purpose. */
export const GatewayErrorCode = {
  /** A subgraph could not be reached, timed out, or answered with something other than GraphQL. */
  SUBGRAPH_UNAVAILABLE: 'SUBGRAPH_UNAVAILABLE',
  /** Too many sign-ups from one address, or from everyone, in the current window. */
  RATE_LIMITED: 'RATE_LIMITED',
} as const;

/**
 * Codes whose errors reach clients as they are, in production too: refusals a
 * client can act on. Everything else is masked and logged.
 */
export const EXPOSED_CODES: ReadonlySet<string> = new Set([
  ...Object.values(GatewayErrorCode),
  // A subgraph's storage is down: the client may retry (users' UNAVAILABLE).
  'UNAVAILABLE',
  // Who may read what: a field the policy hides from this caller, a record that is not theirs, a bad token.
  'UNAUTHORIZED_FIELD_OR_TYPE',
  'FORBIDDEN',
  'UNAUTHENTICATED',
  // Apollo Server's own request errors, and the subgraphs' (BAD_USER_INPUT): the client sent something it can fix.
  // The subgraphs' refusals (EMAIL_TAKEN, …) are values in `data`, not errors.
  'BAD_USER_INPUT',
  'BAD_REQUEST',
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

export const isExposed = (code: unknown): boolean => typeof code === 'string' && EXPOSED_CODES.has(code);

export const MASKED_MESSAGE = 'Internal server error';

/**
 * Production `formatError`: intended errors pass (without stack traces or
 * exception details), anything else becomes a bare INTERNAL_SERVER_ERROR.
 */
export const maskError = (formatted: GraphQLFormattedError): GraphQLFormattedError => {
  if (!isExposed(formatted.extensions?.code)) {
    return { message: MASKED_MESSAGE, ...(formatted.path ? { path: formatted.path } : {}), extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  }
  const { stacktrace: _stacktrace, exception: _exception, ...extensions } = formatted.extensions ?? {};
  return { ...formatted, extensions };
};

export const subgraphUnavailable = (serviceName: string, message: string, reason: string, originalError?: Error) =>
  new GraphQLError(message, {
    extensions: { code: GatewayErrorCode.SUBGRAPH_UNAVAILABLE, serviceName, reason },
    ...(originalError ? { originalError } : {}),
  });

export const rateLimited = (message: string, scope: 'ip' | 'global', retryAfterMs: number) => {
  const retryAfter = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new GraphQLError(message, {
    extensions: {
      code: GatewayErrorCode.RATE_LIMITED,
      scope,
      retryAfter,
      http: { status: 429, headers: new HeaderMap([['retry-after', String(retryAfter)]]) },
    },
  });
};
