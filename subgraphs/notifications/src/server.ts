import { join } from 'node:path';
import { PROJECT_ROOT } from '../../../lib/paths';
import { createSubgraphServer, type SubgraphServerOptions } from '../../../lib/service';
import type { Context } from './context';
import { resolvers } from './resolvers';

/** The notifications subgraph as an Apollo server: no state, no network; the caller supplies the context. */
export const createNotificationsServer = (options: SubgraphServerOptions<Context> = {}) =>
  createSubgraphServer<Context>(join(PROJECT_ROOT, 'subgraphs', 'notifications', 'schema.graphql'), resolvers, options);
