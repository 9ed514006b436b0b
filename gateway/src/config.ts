import { join } from 'node:path';
import { z } from 'zod';
import { commonConfig, defineConfig, mergeConfigs, optionalUrl, path, port, positive, type ConfigOf } from '../../lib/config';
import { PROJECT_ROOT } from '../../lib/paths';

/** `https://app.example.com,http://localhost:5173`: exact origins (scheme, host, port), or `*` for any. */
const origins = z
  .string()
  .transform((value, ctx) => {
    const list = value.split(',').map((item) => item.trim()).filter(Boolean);
    for (const origin of list) {
      if (origin === '*') continue;
      let parsed: URL | undefined;
      try {
        parsed = new URL(origin);
      } catch {
        parsed = undefined;
      }
      if (!parsed || parsed.origin !== origin) {
        ctx.issues.push({ code: 'custom', input: origin, message: `"${origin}" is not an origin like https://app.example.com (no path, no trailing slash)` });
      }
    }
    return list;
  })
  .optional();

/** Strict in production; elsewhere out of reach of a person at a keyboard or a script of a few hundred sign-ups. */
const SIGNUP_RATE_DEFAULTS = {
  production: { perIp: 10, global: 600 },
  other: { perIp: 1000, global: 100_000 },
} as const;

export const gatewayConfig = mergeConfigs(
  commonConfig,
  defineConfig({
    keys: ({ production }) => ({
      /** Unset: every interface, as a public endpoint needs. */
      GATEWAY_HOST: z.string().min(1).optional(),
      GATEWAY_PORT: port(4000),
      USERS_URL: optionalUrl,
      NOTIFICATIONS_URL: optionalUrl,
      SUPERGRAPH_PATH: path(join(PROJECT_ROOT, 'gateway', 'supergraph.graphql')),
      SUBGRAPH_TIMEOUT_MS: positive(10_000),
      /** `on`: identical subgraph queries in flight at the same time share one call (mutations never). */
      SUBGRAPH_MERGE_QUERIES: z.enum(['on', 'off']).default('off'),
      CORS_ORIGINS: origins,
      MAX_BODY_BYTES: positive(64 * 1024),
      MAX_QUERY_DEPTH: positive(8),
      MAX_QUERY_ALIASES: z.coerce.number().int().min(0).default(15),
      MAX_QUERY_TOKENS: positive(1000),
      MAX_QUERY_COST: positive(5000),
      MAX_QUERY_DIRECTIVES: z.coerce.number().int().min(0).default(20),
      SIGNUP_RATE_PER_IP: positive(SIGNUP_RATE_DEFAULTS[production ? 'production' : 'other'].perIp),
      SIGNUP_RATE_GLOBAL: positive(SIGNUP_RATE_DEFAULTS[production ? 'production' : 'other'].global),
      SIGNUP_RATE_WINDOW_MS: positive(10 * 60_000),
    }),
  }),
);

export type GatewayConfig = ConfigOf<typeof gatewayConfig>;
