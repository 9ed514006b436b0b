import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../lib/config';
import type { Logger } from '../../lib/logger';
import { listenService, type RunningService } from '../../lib/service';
import { createGatewayServer } from './server';

export const SUPERGRAPH_FILE = join(__dirname, '..', 'supergraph.graphql');

export const startGateway = async (config: Config, logger: Logger): Promise<RunningService> =>
  listenService({
    name: 'gateway',
    apollo: createGatewayServer({
      supergraphSdl: readFileSync(SUPERGRAPH_FILE, 'utf8'),
      subgraphUrls: { users: config.USERS_URL, notifications: config.NOTIFICATIONS_URL },
      production: config.NODE_ENV === 'production',
    }),
    context: async () => ({}),
    host: config.GATEWAY_HOST,
    port: config.GATEWAY_PORT,
    path: '/',
    logger,
  });
