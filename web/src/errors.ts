import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';

/** The gateway's reason for refusing a token, from its GraphQL-shaped 401 body. */
const refusalOf = (body: string): string => {
  try {
    return (JSON.parse(body) as { errors?: { message?: string }[] }).errors?.[0]?.message ?? 'no reason given.';
  } catch {
    return 'no reason given.';
  }
};

/**
 * A message for a failed operation, chosen by the error's `code` (never by parsing its message).
 * Expected refusals of a sign-up are not errors: they arrive as `UserError` values in the data.
 */
export const describeError = (error: unknown): string => {
  if (CombinedGraphQLErrors.is(error)) {
    const extensions = error.errors[0]?.extensions ?? {};
    switch (extensions['code']) {
      case 'RATE_LIMITED':
        return `Too many sign-ups right now. Please try again in ${Math.ceil(Number(extensions['retryAfter'] ?? 60) / 60)} min.`;
      case 'SUBGRAPH_UNAVAILABLE':
      case 'UNAVAILABLE': // its storage is out of reach; a sign-up sent again with its key is safe
        return 'Part of the service is unavailable right now. Please try again shortly.';
      case 'UNAUTHORIZED_FIELD_OR_TYPE':
      case 'FORBIDDEN':
        return 'Your access token does not allow this (listing users needs the users:read scope).';
      case 'BAD_USER_INPUT':
        return error.errors[0]?.message ?? 'The request was not valid.';
      case 'BAD_REQUEST':
      case 'GRAPHQL_PARSE_FAILED':
      case 'GRAPHQL_VALIDATION_FAILED':
        return 'This page sent a request the server does not understand. Reload the page.';
      default:
        return 'Something went wrong on our side. Please try again.';
    }
  }
  if (ServerError.is(error) && error.statusCode === 401) return `Your access token was refused: ${refusalOf(error.bodyText)}`;
  if (ServerError.is(error)) return `The server answered with HTTP ${error.statusCode}. Please try again.`;
  return 'Cannot reach the server. Check your connection and try again.';
};
