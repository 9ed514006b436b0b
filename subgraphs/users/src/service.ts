import { randomUUID } from 'node:crypto';
import { Counter } from 'prom-client';
import type { Logger } from '../../../lib/logger';
import { startSubgraph, type RunningService } from '../../../lib/service';
import type { UsersConfig } from './config';
import type { Context } from './context';
import { emptyUsersState, usersSnapshotCodec, type UsersEvent, type UsersState } from './domain';
import { createUsersServer } from './server';

/** Loads the users state from its log and serves the subgraph; `onFatal` hears of a log that can no longer be written. */
export const startUsersService = (config: UsersConfig, logger: Logger, onFatal?: (error: Error) => void): Promise<RunningService> =>
  startSubgraph<UsersState, UsersEvent, Context>(config, logger, onFatal, {
    name: 'users',
    port: config.USERS_PORT,
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
