import type { ApolloServerPlugin } from '@apollo/server';
import { Kind, type DocumentNode, type FragmentDefinitionNode, type OperationDefinitionNode, type SelectionSetNode } from 'graphql';
import { rateLimited } from './errors';

export interface RateLimitOptions {
  /** Sign-ups one client address may make per window. */
  readonly perIp: number;
  /** Sign-ups everyone together may make per window. */
  readonly global: number;
  readonly windowMs: number;
  readonly now?: () => number;
}

export type TakeResult = { readonly ok: true } | { readonly ok: false; readonly scope: 'ip' | 'global'; readonly retryAfterMs: number };

export interface SignUpLimiter {
  /** Takes `count` sign-ups for `ip`, all or none. */
  take(ip: string, count: number): TakeResult;
}

interface Window {
  start: number;
  used: number;
}

/**
 * Fixed windows that start at a key's first sign-up: per client address and
 * one for everyone. In memory, so one gateway replica counts alone; an entry
 * exists only for an address that signed someone up in its current window.
 */
export const createSignUpLimiter = ({ perIp, global, windowMs, now = Date.now }: RateLimitOptions): SignUpLimiter => {
  const byIp = new Map<string, Window>();
  let everyone: Window = { start: now(), used: 0 };
  let lastSweep = now();
  const fresh = (window: Window | undefined, at: number): Window =>
    window && at - window.start < windowMs ? window : { start: at, used: 0 };
  return {
    take(ip, count) {
      const at = now();
      if (at - lastSweep >= windowMs) {
        for (const [key, window] of byIp) if (at - window.start >= windowMs) byIp.delete(key);
        lastSweep = at;
      }
      const mine = fresh(byIp.get(ip), at);
      everyone = fresh(everyone, at);
      if (mine.used + count > perIp) return { ok: false, scope: 'ip', retryAfterMs: mine.start + windowMs - at };
      if (everyone.used + count > global) return { ok: false, scope: 'global', retryAfterMs: everyone.start + windowMs - at };
      mine.used += count;
      everyone.used += count;
      byIp.set(ip, mine);
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
        const taken = limiter.take(contextValue.clientIp, wanted);
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
