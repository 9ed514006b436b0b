import { ApolloClient, ApolloLink, HttpLink, InMemoryCache } from '@apollo/client';
import { SetContextLink } from '@apollo/client/link/context';

/** The gateway's GraphQL endpoint; set VITE_GATEWAY_URL (e.g. in web/.env.local) to point elsewhere. */
export const GATEWAY_URL: string = import.meta.env.VITE_GATEWAY_URL ?? 'http://localhost:4000/';

let accessToken: string | null = null;

/** The token every request carries from now on (null: anonymous), and a fresh cache, since what the caller may see changed. */
export const setAccessToken = async (token: string | null): Promise<void> => {
  accessToken = token;
  await client.resetStore();
};

// How a signed-in client passes its token: `Authorization: Bearer <token>` on every request, added by a link.
const authLink = new SetContextLink((previous) =>
  accessToken ? { headers: { ...previous.headers, authorization: `Bearer ${accessToken}` } } : {},
);

// HttpLink POSTs with `content-type: application/json`, which satisfies the gateway's CSRF
// prevention and, cross-origin, makes the browser send a CORS preflight first.
export const client = new ApolloClient({
  link: ApolloLink.from([authLink, new HttpLink({ uri: GATEWAY_URL })]),
  cache: new InMemoryCache(),
});
