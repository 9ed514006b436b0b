import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import ipaddr from 'ipaddr.js';
import CircuitBreaker from 'opossum';
import type { Pool } from 'pg';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Logger } from '../../lib/logger';
import { migrate } from '../../lib/postgres';
import { rateLimited } from './errors';

export interface RateLimitOptions {
  /** Sign-ups one client address may make per window. */
  readonly perIp: number;
  /** Sign-ups everyone together may make per window. */
  readonly global: number;
  readonly windowMs: number;
  /** IPv6 clients are counted by network of this prefix length: one host is given a whole /64, not one address. */
  readonly ipv6Prefix: number;
}

type TakeResult = { readonly ok: true } | { readonly ok: false; readonly scope: 'ip' | 'global'; readonly retryAfterMs: number };

export interface SignUpLimiter {
  /** Takes `count` sign-ups for `ip`, all or none. */
  take(ip: string, count: number): Promise<TakeResult>;
}

/** A window's counter: rate-limiter-flexible's `consume` (rejects with a `RateLimiterRes` when refused) and `reward`. */
export type Counter = Pick<RateLimiterAbstract, 'consume' | 'reward'>;

/** Where the counters live: in this process by default; a shared store makes the limits hold across gateway replicas. */
export type CounterStore = (options: { keyPrefix: string; points: number; duration: number }) => Counter;

const memoryCounters: CounterStore = (options) => new RateLimiterMemory(options);

// Any constant will do: it only has to be the same in every gateway that creates the table.
const COUNTERS_TABLE_LOCK = 0x726c6d31;
const COUNTERS_TABLE = 'signup_rate_limits';

export interface SharedCounterOptions {
  readonly logger: Logger;
  /** How long a count in the database may take before it is made in memory instead. */
  readonly timeoutMs?: number;
  /** After the database failed, how long every count is made in memory before it is tried again. */
  readonly cooldownMs?: number;
  /** Told each count made in memory instead of the database: `timeout`, `error`, or `open` (not tried). */
  readonly onFallback?: (reason: 'timeout' | 'error' | 'open') => void;
}

/**
 * Counters in one PostgreSQL table (created if missing, one gateway at a time): every gateway
 * replica on the same database counts together. A count the database does not make within
 * `timeoutMs` is made in this gateway's memory, and after a failure a circuit breaker (opossum)
 * counts in memory for `cooldownMs` without asking the database, then lets one count try it:
 * while the database is away, sign-ups stay limited (per gateway) and wait for nothing.
 */
export const postgresCounters = async (
  pool: Pool,
  { logger, timeoutMs = 500, cooldownMs = 5_000, onFallback }: SharedCounterOptions,
): Promise<{ counters: CounterStore; close(): void }> => {
  await migrate(pool, COUNTERS_TABLE_LOCK, [
    // The table rate-limiter-flexible would create itself, racing other gateways.
    `CREATE TABLE IF NOT EXISTS ${COUNTERS_TABLE} (key varchar(255) PRIMARY KEY, points integer NOT NULL DEFAULT 0, expire bigint)`,
  ]);
  const breaker = new CircuitBreaker((inDatabase: () => Promise<unknown>, _inMemory: () => Promise<unknown>) => inDatabase(), {
    timeout: timeoutMs,
    resetTimeout: cooldownMs,
    // A refusal is the database answering.
    errorFilter: (error: unknown) => error instanceof RateLimiterRes,
  });
  breaker.fallback((_inDatabase: () => Promise<unknown>, inMemory: () => Promise<unknown>, error: unknown) => {
    const reason = (error as { code?: string }).code;
    onFallback?.(reason === 'EOPENBREAKER' ? 'open' : reason === 'ETIMEDOUT' ? 'timeout' : 'error');
    return inMemory();
  });
  breaker.on('open', () => logger.warn({ cooldownMs }, "the sign-up counters' database failed: counting sign-ups in this gateway's memory"));
  breaker.on('close', () => logger.info('counting sign-ups in the database again'));
  const counters: CounterStore = (options) => {
    const inDatabase = new RateLimiterPostgres({ storeClient: pool, storeType: 'pool', tableName: COUNTERS_TABLE, tableCreated: true, ...options });
    const inMemory = new RateLimiterMemory(options);
    const count =
      (method: 'consume' | 'reward') =>
      (key: string | number, points?: number) =>
        breaker.fire(
          () => inDatabase[method](key, points),
          () => inMemory[method](key, points),
        ) as Promise<RateLimiterRes>;
    return { consume: count('consume'), reward: count('reward') };
  };
  return { counters, close: () => breaker.shutdown() };
};

/**
 * The key a client address is counted under: an IPv4 address as it is (an IPv4-mapped IPv6 one as
 * IPv4), an IPv6 address by its network of `ipv6Prefix` bits (`2001:db8:1:2::/64`). Anything else
 * (no address) as it is.
 */
export const addressKey = (address: string, ipv6Prefix: number): string => {
  if (!ipaddr.isValid(address)) return address;
  const parsed = ipaddr.process(address);
  if (parsed.kind() === 'ipv4') return parsed.toString();
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${parsed.toString()}/${ipv6Prefix}`).toString()}/${ipv6Prefix}`;
};

/** A refusal of rate-limiter-flexible (a `RateLimiterRes`); anything else (the store failing) is thrown on. */
const refusal = (error: unknown): RateLimiterRes => {
  if (error instanceof RateLimiterRes) return error;
  throw error;
};

/**
 * Fixed windows (rate-limiter-flexible) that start at a key's first sign-up:
 * one per client address (an IPv6 network, see `addressKey`) and one for
 * everyone. A refused request takes nothing.
 */
export const createSignUpLimiter = ({ perIp, global, windowMs, ipv6Prefix }: RateLimitOptions, counters = memoryCounters): SignUpLimiter => {
  const duration = windowMs / 1000;
  const byIp = counters({ keyPrefix: 'signup-ip', points: perIp, duration });
  const everyone = counters({ keyPrefix: 'signup-all', points: global, duration });
  return {
    async take(address, count) {
      const ip = addressKey(address, ipv6Prefix);
      try {
        await byIp.consume(ip, count);
      } catch (error) {
        const { msBeforeNext } = refusal(error);
        await byIp.reward(ip, count);
        return { ok: false, scope: 'ip', retryAfterMs: msBeforeNext };
      }
      try {
        await everyone.consume('all', count);
      } catch (error) {
        const { msBeforeNext } = refusal(error);
        await Promise.all([byIp.reward(ip, count), everyone.reward('all', count)]);
        return { ok: false, scope: 'global', retryAfterMs: msBeforeNext };
      }
      return { ok: true };
    },
  };
};

/**
 * How many times `field` is selected at the root of a mutation, through
 * aliases, fragments and inline fragments. Each fragment is counted once and
 * reused, so a fragment "bomb" costs linear time (and yields a huge count).
 */
export const countRootField = (document: DocumentNode, operation: OperationDefinitionNode, field: string): number => {
  if (operation.operation !== 'mutation') return 0;
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const memo = new Map<string, number>();
  const count = (selectionSet: SelectionSetNode, visiting: Set<string>): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value === field) total++;
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        total += count(selection.selectionSet, visiting);
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment || visiting.has(name)) continue; // validation has refused cycles already
        if (!memo.has(name)) memo.set(name, count(fragment.selectionSet, new Set(visiting).add(name)));
        total += memo.get(name)!;
      }
    }
    return total;
  };
  return count(operation.selectionSet, new Set());
};

interface LimitedContext {
  readonly clientIp: string;
  readonly logger: { warn(fields: object, message: string): void };
}

/**
 * Counts the sign-ups an operation asks for once it is validated and before
 * anything runs, and refuses the whole operation when they do not fit: the
 * users subgraph is never called, so nothing is written.
 */
export const signUpRateLimitPlugin = (
  limiter: SignUpLimiter,
  { field, perIp, onLimited }: { field: string; perIp: number; onLimited?: (scope: 'ip' | 'global') => void },
): ApolloServerPlugin<LimitedContext> => ({
  async requestDidStart() {
    return {
      async didResolveOperation({ document, operation, contextValue }) {
        if (!operation) return;
        const wanted = countRootField(document, operation, field);
        if (wanted === 0) return;
        const taken = await limiter.take(contextValue.clientIp, wanted);
        if (taken.ok) return;
        onLimited?.(taken.scope);
        contextValue.logger.warn({ clientIp: contextValue.clientIp, scope: taken.scope, wanted }, 'sign-ups refused by the rate limit');
        const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
        const message =
          taken.scope === 'global'
            ? `Too many sign-ups right now; try again in ${seconds} s.`
            : wanted > perIp
              ? `This request asks for ${wanted} sign-ups; at most ${perIp} are allowed per address in a window.`
              : `Too many sign-ups from your address; try again in ${seconds} s.`;
        throw rateLimited(message, taken.scope, taken.retryAfterMs);
      },
    };
  },
});
