import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApolloServer } from '@apollo/server';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';
import { subgraphServerOptions, type SubgraphServerOptions } from '../../../lib/service';
import type { Context } from './context';
import { resolvers } from './resolvers';

const notificationsTypeDefs = parse(readFileSync(join(__dirname, '..', 'schema.graphql'), 'utf8'));

/** The notifications subgraph as an Apollo server: no state, no network; the caller supplies the context. */
export const createNotificationsServer = (options: SubgraphServerOptions<Context> = {}) =>
  new ApolloServer<Context>({
    schema: buildSubgraphSchema({ typeDefs: notificationsTypeDefs, resolvers: resolvers as never }),
    ...subgraphServerOptions(options),
  });
