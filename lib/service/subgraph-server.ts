import { readFileSync } from 'node:fs';
import { ApolloServer, type ApolloServerOptions, type ApolloServerPlugin, type BaseContext } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginInlineTraceDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';

export interface SubgraphServerOptions<C extends BaseContext> {
  /** No introspection, no stack traces in answers. */
  readonly production?: boolean;
  readonly plugins?: readonly ApolloServerPlugin<C>[];
}

/** What every subgraph's Apollo server shares: only the gateway calls it, so no landing page and no CORS. */
const subgraphServerOptions = <C extends BaseContext>({ production = false, plugins = [] }: SubgraphServerOptions<C>) =>
  ({
    introspection: !production,
    includeStacktraceInErrorResponses: !production,
    nodeEnv: production ? 'production' : 'development',
    allowBatchedHttpRequests: false,
    // Inline traces are for Apollo's hosted reporting, which this system does not use. No type or field
    // has a cache hint, and the cache-control plugin would wrap every resolver to look for one.
    plugins: [ApolloServerPluginInlineTraceDisabled(), ApolloServerPluginCacheControlDisabled(), ApolloServerPluginLandingPageDisabled(), ...plugins],
    // The process owner (lib/run-main.ts) stops services in order on SIGINT/SIGTERM.
    stopOnTerminationSignals: false,
  }) satisfies Partial<ApolloServerOptions<C>>;

/** A subgraph's Apollo server from its schema file and resolvers: no state, no network; the caller supplies the context. */
export const createSubgraphServer = <C extends BaseContext>(schemaFile: string, resolvers: unknown, options: SubgraphServerOptions<C> = {}) =>
  new ApolloServer<C>({
    schema: buildSubgraphSchema({ typeDefs: parse(readFileSync(schemaFile, 'utf8')), resolvers: resolvers as never }),
    ...subgraphServerOptions(options),
  });
