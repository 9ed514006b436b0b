import { z } from 'zod';
import { defineConfig, mergeConfigs, port, positive, subgraphConfig, type ConfigOf } from '../../../lib/config';

export const notificationsConfig = mergeConfigs(
  subgraphConfig,
  defineConfig({
    keys: () => ({
      NOTIFICATIONS_PORT: port(4002),
      SMTP_URL: z.url({ protocol: /^smtps?$/ }).optional(),
      MAIL_FROM: z.string().min(3).default('Welcome <welcome@localhost>'),
      /** Backoff of transient SMTP failures: first delay, doubled per attempt up to the cap, with jitter. */
      SMTP_RETRY_BASE_MS: positive(1_000),
      SMTP_RETRY_MAX_MS: positive(5 * 60_000),
    }),
    requiredInProduction: {
      SMTP_URL: 'required in production: without it welcome emails would only be written to the dev outbox',
    },
  }),
);

export type NotificationsConfig = ConfigOf<typeof notificationsConfig>;
