import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import type { Context } from './context';
import { resolvers } from './resolvers';

export const usersTypeDefs = parse(readFileSync(join(__dirname, '..', 'schema.graphql'), 'utf8'));

/** The users subgraph as an Apollo server: no state, no network; the caller supplies the context. */
export const createUsersServer = () =>
  new ApolloServer<Context>({
    schema: buildSubgraphSchema({ typeDefs: usersTypeDefs, resolvers: resolvers as never }),
    // Inline traces are for Apollo's hosted reporting, which this system does not use.
    plugins: [ApolloServerPluginInlineTraceDisabled()],
    // The process owner (lib/main.ts) stops services in order on SIGINT/SIGTERM.
    stopOnTerminationSignals: false,
  });
