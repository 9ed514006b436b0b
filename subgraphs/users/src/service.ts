import { randomUUID } from 'node:crypto';
import type { Config } from '../../../lib/config';
import type { Logger } from '../../../lib/logger';
import { listenService, type RunningService } from '../../../lib/service';
import { streamDir } from '../../../lib/log';
import { openStore } from '../../../lib/store';
import type { Context } from './context';
import { emptyUsersState, type UsersEvent, type UsersState } from './domain';
import { createUsersServer } from './server';

/** Loads the users state from its log and serves the subgraph. */
export const startUsersService = async (config: Config, logger: Logger): Promise<RunningService> => {
  const store = await openStore<UsersState, UsersEvent>({ dir: streamDir(config.DATA_DIR, 'users'), initial: emptyUsersState(), logger });
  const context: Context = { store, logger, newId: randomUUID, now: () => new Date() };
  try {
    return await listenService({
      name: 'users',
      apollo: createUsersServer(),
      context: async () => context,
      host: config.HOST,
      port: config.USERS_PORT,
      path: '/graphql',
      logger,
      onStop: () => store.close(),
    });
  } catch (error) {
    await store.close();
    throw error;
  }
};
