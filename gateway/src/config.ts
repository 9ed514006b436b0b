import { join } from 'node:path';
import { z } from 'zod';
import { commonConfig, defineConfig, mergeConfigs, optionalUrl, path, port, positive, type ConfigOf } from '../../lib/config';
import { PROJECT_ROOT } from '../../lib/paths';
import { subgraphUrlsConfig, type SubgraphList } from '../../lib/subgraph-list';

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

/** Signature algorithms a token may use: asymmetric only, so no `none` and no HMAC keyed with a public key. */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

const algorithms = z
  .string()
  .transform((value, ctx) => {
    const list = value.split(',').map((item) => item.trim()).filter(Boolean);
    for (const algorithm of list) {
      if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm)) {
        ctx.issues.push({ code: 'custom', input: algorithm, message: `"${algorithm}" is not one of ${ASYMMETRIC_ALGORITHMS.join(', ')} (never none, never HMAC)` });
      }
    }
    if (list.length === 0) ctx.issues.push({ code: 'custom', input: value, message: 'names no algorithm' });
    return list;
  })
  .default(['RS256', 'PS256', 'ES256', 'EdDSA']);

/** Plain HTTP only to this machine: keys fetched over the network unencrypted could be swapped on the way. */
const isLoopbackOrHttps = (url: string): boolean => {
  const { protocol, hostname } = new URL(url);
  return protocol === 'https:' || hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname);
};

const flag = z.enum(['true', 'false']).default('false').transform((value) => value === 'true');

/** Strict in production; elsewhere out of reach of a person at a keyboard or a script of a few hundred sign-ups. */
const SIGNUP_RATE_DEFAULTS = {
  production: { perIp: 10, global: 600 },
  other: { perIp: 1000, global: 100_000 },
} as const;

/** The gateway's keys but the subgraphs' URLs, which come from the subgraph list (`gatewayConfigFor`). */
export const gatewayConfig = mergeConfigs(
  commonConfig,
  defineConfig({
    keys: ({ production }) => ({
      /** Unset: see `gatewayHost`. */
      GATEWAY_HOST: z.string().min(1).optional(),
      GATEWAY_PORT: port(4000),
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
      SIGNUP_RATE_IPV6_PREFIX: z.coerce.number().int().min(32, 'must be 32 to 128').max(128, 'must be 32 to 128').default(64),
      /** The OpenID Connect issuer whose access tokens the gateway accepts; its discovery document names the JWKS. */
      AUTH_ISSUER: optionalUrl,
      /** The issuer's JWKS, when it has no discovery document. */
      AUTH_JWKS_URL: optionalUrl,
      /** The `aud` every token must carry: this API's identifier at the issuer. */
      AUTH_AUDIENCE: z.string().min(1).optional(),
      AUTH_ALGORITHMS: algorithms,
      AUTH_CLOCK_TOLERANCE_S: z.coerce.number().int().min(0).max(300).default(5),
      /** The claim that holds this system's user id. */
      AUTH_USER_CLAIM: z.string().min(1).default('sub'),
      /** Least time between two JWKS fetches for unknown keys. */
      AUTH_JWKS_COOLDOWN_MS: z.coerce.number().int().min(0).default(30_000),
      /** `true`: an operation that asks for anything the caller may not see is refused whole (Apollo Router's reject_unauthorized). */
      AUTH_REJECT_UNAUTHORIZED: flag,
    }),
    check: (values, { production }) => {
      const problems: string[] = [];
      const issuerSet = Boolean(values.AUTH_ISSUER ?? values.AUTH_JWKS_URL);
      if (production && !issuerSet) problems.push('AUTH_ISSUER: required in production (or AUTH_JWKS_URL): the issuer whose access tokens the gateway verifies');
      if ((production || issuerSet) && !values.AUTH_AUDIENCE) problems.push('AUTH_AUDIENCE: required with a token issuer: the audience (aud) this API accepts');
      for (const key of ['AUTH_ISSUER', 'AUTH_JWKS_URL'] as const) {
        const url = values[key];
        if (production && url && !isLoopbackOrHttps(url)) problems.push(`${key}: must be https in production (plain http only to this machine), got ${url}`);
      }
      return problems;
    },
  }),
);

export type GatewayConfig = ConfigOf<typeof gatewayConfig>;

/** Every key of the gateway: its own, and each listed subgraph's `<NAME>_URL`. */
export const gatewayConfigFor = (list: SubgraphList) => mergeConfigs(gatewayConfig, subgraphUrlsConfig(list.subgraphs));

/**
 * Where the public endpoint listens: `GATEWAY_HOST`; unset, every interface, except with `TRUST_PROXY`
 * a hop count or `true`. Those believe whoever connects is the last proxy, so a client that reaches
 * the gateway directly names its own address in `X-Forwarded-For`: then only loopback (a proxy on
 * this machine), unless `GATEWAY_HOST` names the interface the proxies, and only they, reach.
 */
export const gatewayHost = ({ GATEWAY_HOST, TRUST_PROXY }: Pick<GatewayConfig, 'GATEWAY_HOST' | 'TRUST_PROXY'>): string | undefined =>
  GATEWAY_HOST ?? (TRUST_PROXY === true || (typeof TRUST_PROXY === 'number' && TRUST_PROXY > 0) ? '127.0.0.1' : undefined);
