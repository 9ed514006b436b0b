import type { Immutable } from 'immer';
import { emptyTrie, type HashTrie } from '../../../../lib/hash-trie';

export interface User {
  readonly id: string;
  readonly name: string;
  readonly email: string;
  /** ISO 8601, UTC. */
  readonly createdAt: string;
  /** 1-based position in sign-up order: the paging key. */
  readonly seq: number;
  /** The client's idempotency key for this sign-up, until it expires (see `IDEMPOTENCY_KEY_RETENTION_MS`). */
  readonly idempotencyKey?: string;
}

/** Fan-out of the sign-up order tree: an add copies at most three arrays of this many ids or fewer. */
export const ORDER_FANOUT = 128;

/** Where sign-up position `seq` (1-based) sits in `UsersState.order`. */
export const orderSlot = (seq: number): readonly [number, number, number] => {
  const p = seq - 1;
  return [Math.floor(p / ORDER_FANOUT ** 2), Math.floor(p / ORDER_FANOUT) % ORDER_FANOUT, p % ORDER_FANOUT];
};

/**
 * No container holds all users, so one sign-up touches a handful of small
 * containers whatever the number of users: the lookups are hash tries (see
 * lib/hash-trie) and the sign-up order is a three-level tree of small arrays.
 */
export interface UsersState {
  readonly count: number;
  readonly byId: HashTrie<User>;
  /** Lower-cased email -> user id: uniqueness regardless of case. */
  readonly idByEmail: HashTrie<string>;
  /** User ids in sign-up order, at the slot `orderSlot(seq)` names. */
  readonly order: readonly (readonly (readonly string[])[])[];
  /** Idempotency key -> the id of the user its sign-up made, while the key is retained. */
  readonly idByKey: HashTrie<string>;
  /** Every user up to this sign-up position has had an expired key dropped, or had none. */
  readonly keysExpiredThrough: number;
}

/** What other services learn of a sign-up: the user without the client's idempotency key. */
export type UsersEvent = { readonly type: 'UserAdded'; readonly user: Immutable<Omit<User, 'idempotencyKey'>> };

export const emptyUsersState = (): UsersState => ({
  count: 0,
  byId: emptyTrie(),
  idByEmail: emptyTrie(),
  order: [],
  idByKey: emptyTrie(),
  keysExpiredThrough: 0,
});
