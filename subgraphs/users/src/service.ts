import { randomUUID } from 'node:crypto';
import { Counter } from 'prom-client';
import { defineSubgraphService, startSubgraph, type RunningService, type SubgraphStartOptions } from '../../../lib/service';
import { usersConfig, type UsersConfig } from './config';
import type { Context } from './context';
import { emptyUsersState, usersSnapshotCodec, type UsersEvent, type UsersState } from './domain';
import { createUsersServer } from './server';

/** Loads the users state from its log and serves the subgraph. */
export const startUsersService = (config: UsersConfig, { port, logger, onFatal }: SubgraphStartOptions): Promise<RunningService> =>
  startSubgraph<UsersState, UsersEvent, Context>(config, logger, onFatal, {
    name: 'users',
    port,
    readers: config.LOG_READERS,
    initial: emptyUsersState(),
    codec: usersSnapshotCodec,
    build: ({ store, logger: serviceLogger, metrics }) => {
      const signUps = new Counter({
        name: 'signups_total',
        help: 'Sign-ups, by outcome: created, replayed (a retry with the same idempotency key), or the refusal code (EMAIL_TAKEN, INVALID_EMAIL, ...)',
        labelNames: ['outcome'],
        registers: [metrics.registry],
      });
      return {
        createServer: createUsersServer,
        context: {
          store,
          logger: serviceLogger,
          newId: randomUUID,
          now: () => new Date(),
          keyRetentionMs: config.IDEMPOTENCY_KEY_RETENTION_MS,
          onSignUp: (outcome) => signUps.inc({ outcome }),
        },
      };
    },
  });

/** The users subgraph as `npm start` and `npm run start:subgraph -- users` run it. */
export const subgraphService = defineSubgraphService({ config: usersConfig, start: startUsersService });
