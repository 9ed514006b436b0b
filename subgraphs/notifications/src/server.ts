import { join } from 'node:path';
import { createSubgraphServer, type SubgraphServerOptions } from '../../../lib/service';
import type { Context } from './context';
import { resolvers } from './resolvers';

/** The notifications subgraph as an Apollo server: no state, no network; the caller supplies the context. */
export const createNotificationsServer = (options: SubgraphServerOptions<Context> = {}) =>
  createSubgraphServer<Context>(join(__dirname, '..', 'schema.graphql'), resolvers, options);
