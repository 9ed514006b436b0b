import { ApolloClient, HttpLink, InMemoryCache } from '@apollo/client';

/** The gateway's GraphQL endpoint; set VITE_GATEWAY_URL (e.g. in web/.env.local) to point elsewhere. */
export const GATEWAY_URL: string = import.meta.env.VITE_GATEWAY_URL ?? 'http://localhost:4000/';

// HttpLink POSTs with `content-type: application/json`, which satisfies the gateway's CSRF
// prevention and, cross-origin, makes the browser send a CORS preflight first.
export const client = new ApolloClient({
  link: new HttpLink({ uri: GATEWAY_URL }),
  cache: new InMemoryCache(),
});
