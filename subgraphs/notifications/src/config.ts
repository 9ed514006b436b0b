import { z } from 'zod';
import { defineConfig, mergeConfigs, positive, subgraphConfig, type ConfigOf } from '../../../lib/config';

export const notificationsConfig = mergeConfigs(
  subgraphConfig,
  defineConfig({
    keys: () => ({
      SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
      MAIL_FROM: z.string().min(3).default('Welcome <welcome@localhost>'),
      /** Backoff of transient SMTP failures: first delay, doubled per attempt up to the cap, with jitter. */
      SMTP_RETRY_BASE_MS: positive(1_000),
      SMTP_RETRY_MAX_MS: positive(5 * 60_000),
      /** A delivery the server keeps deferring (4xx to RCPT TO or DATA) is FAILED once queued this long. */
      SMTP_RETRY_MAX_AGE_MS: positive(5 * 24 * 3_600_000),
      /** This replica's name in the claims it records; unique among running replicas. Unset: hostname-pid-random (PostgreSQL) or `embedded`. */
      REPLICA_ID: z.string().regex(/^[A-Za-z0-9._:-]{1,100}$/, 'must be 1-100 characters of A-Z a-z 0-9 . _ : -').optional(),
      /** How long a replica's claim on a delivery lasts before another replica may take it over. */
      DELIVERY_LEASE_MS: z.coerce
        .number()
        .int()
        .min(5_000, 'must be at least 5000 (ms): a shorter lease runs out within an ordinary SMTP conversation')
        .default(60_000),
      /** With DATABASE_URL: how often a replica looks for deliveries queued by others or whose claim expired. */
      DELIVERY_SCAN_MS: positive(10_000),
    }),
    requiredInProduction: {
      SMTP_URL: 'required in production: without it welcome emails would only be written to the dev outbox',
    },
  }),
);

export type NotificationsConfig = ConfigOf<typeof notificationsConfig>;
