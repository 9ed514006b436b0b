import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { CombinedGraphQLErrors, ServerError } from '@apollo/client/errors';
import { SetContextLink } from '@apollo/client/link/context';
import { RetryLink } from '@apollo/client/link/retry';
import { OperationTypeNode } from 'graphql';
import { map } from 'rxjs';

/** The gateway's GraphQL endpoint; set VITE_GATEWAY_URL (e.g. in web/.env.local) to point elsewhere. */
export const GATEWAY_URL: string = import.meta.env.VITE_GATEWAY_URL ?? 'http://localhost:4000/';

let accessToken: string | null = null;

/** The token every request carries from now on (null: anonymous), and a fresh cache, since what the caller may see changed. */
export const setAccessToken = async (token: string | null): Promise<void> => {
  accessToken = token;
  await client.resetStore();
};

/** A new sign-up's idempotency key: 32 hex digits (`crypto.randomUUID` needs a secure context; this does not). */
export const newIdempotencyKey = (): string =>
  Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, '0')).join('');

// How a signed-in client passes its token: `Authorization: Bearer <token>` on every request, added by a link.
const authLink = new SetContextLink((previous) =>
  accessToken ? { headers: { ...previous.headers, authorization: `Bearer ${accessToken}` } } : {},
);

/** Answers that mean "not done, or not known to be done": the same request may be sent again. */
const RETRIABLE_CODES = new Set(['UNAVAILABLE', 'SUBGRAPH_UNAVAILABLE']);
const allRetriable = (errors: readonly { extensions?: Record<string, unknown> | undefined }[]): boolean =>
  errors.length > 0 && errors.every((error) => RETRIABLE_CODES.has(String(error.extensions?.['code'])));

// RetryLink sees errors only: an answer that is all retriable GraphQL errors becomes one.
const retriableAnswerAsError = new ApolloLink((operation, forward) =>
  forward(operation).pipe(
    map((result) => {
      if (result.errors && allRetriable(result.errors)) throw new CombinedGraphQLErrors(result);
      return result;
    }),
  ),
);

/** Queries may always be sent again; a mutation only with an idempotency key, which makes a repeat return the first answer. */
const isSafeToRepeat = (operation: ApolloLink.Operation): boolean =>
  operation.operationType === OperationTypeNode.QUERY ||
  typeof (operation.variables['input'] as { idempotencyKey?: unknown } | undefined)?.idempotencyKey === 'string';

const retryLink = new RetryLink({
  delay: { initial: 500, max: 5_000, jitter: true },
  attempts: {
    max: 4,
    retryIf: (error, operation) => {
      if (!isSafeToRepeat(operation)) return false;
      if (CombinedGraphQLErrors.is(error)) return allRetriable(error.errors);
      if (ServerError.is(error)) return error.statusCode >= 500;
      return true; // the request or its answer was lost on the way
    },
  },
});

// HttpLink POSTs with `content-type: application/json`, which satisfies the gateway's CSRF
// prevention and, cross-origin, makes the browser send a CORS preflight first.
export const client = new ApolloClient({
  link: ApolloLink.from([authLink, retryLink, retriableAnswerAsError, new HttpLink({ uri: GATEWAY_URL })]),
  cache: new InMemoryCache(),
});
