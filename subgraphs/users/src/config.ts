import { z } from 'zod';
import { defineConfig, mergeConfigs, subgraphConfig, type ConfigOf } from '../../../lib/config';
import { DEFAULT_KEY_RETENTION_MS } from './domain';

const readerName = /^[A-Za-z0-9._-]{1,100}$/;

export const usersConfig = mergeConfigs(
  subgraphConfig,
  defineConfig({
    keys: () => ({
      /** How long a sign-up's idempotency key is honoured: a retry within it answers with the same user. */
      IDEMPOTENCY_KEY_RETENTION_MS: z.coerce
        .number()
        .int()
        .min(60_000, 'must be at least 60000 (a minute): clients retry for longer than that')
        .max(30 * 24 * 60 * 60 * 1000, 'must be at most 2592000000 (30 days): keys are kept in memory')
        .default(DEFAULT_KEY_RETENTION_MS),
      /**
       * The services that read the users log, comma-separated (`none`: no reader): the embedded
       * log keeps every record until each has read it, even one that has never started.
       */
      LOG_READERS: z
        .string()
        .default('notifications')
        .transform((value) => (value.trim() === 'none' ? [] : value.split(',').map((name) => name.trim())))
        .pipe(z.array(z.string().regex(readerName, 'each reader must be 1-100 characters of A-Z a-z 0-9 . _ -, or the whole value `none`'))),
    }),
  }),
);

export type UsersConfig = ConfigOf<typeof usersConfig>;
