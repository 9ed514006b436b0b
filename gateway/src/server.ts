import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { SubgraphSource } from './subgraph-source';

export interface GatewayOptions {
  readonly supergraphSdl: string;
  /** Subgraph name -> URL, overriding the routing URL composed into the supergraph. */
  readonly subgraphUrls: Readonly<Record<string, string | undefined>>;
  readonly production: boolean;
}

/** The public endpoint: a static supergraph, with Sandbox and introspection outside production. */
export const createGatewayServer = ({ supergraphSdl, subgraphUrls, production }: GatewayOptions) =>
  new ApolloServer({
    gateway: new ApolloGateway({
      supergraphSdl,
      buildService: ({ name, url }) => new SubgraphSource(name, subgraphUrls[name] ?? url!),
    }),
    introspection: !production,
    includeStacktraceInErrorResponses: !production,
    // The process owner (lib/main.ts) stops services in order on SIGINT/SIGTERM.
    stopOnTerminationSignals: false,
  });
