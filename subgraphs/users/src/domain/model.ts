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
}

/**
 * Every index is a hash trie, so one sign-up touches a handful of small
 * containers whatever the number of users (see lib/hash-trie).
 */
export interface UsersState {
  readonly count: number;
  readonly byId: HashTrie<User>;
  /** Lower-cased email -> user id: uniqueness regardless of case. */
  readonly idByEmail: HashTrie<string>;
  /** Sign-up position (as a decimal string) -> user id. */
  readonly idBySeq: HashTrie<string>;
}

export type UsersEvent = { readonly type: 'UserAdded'; readonly user: Immutable<User> };

export const emptyUsersState = (): UsersState => ({
  count: 0,
  byId: emptyTrie(),
  idByEmail: emptyTrie(),
  idBySeq: emptyTrie(),
});

export type UserErrorCode = 'INVALID_EMAIL' | 'EMAIL_TAKEN' | 'INVALID_NAME';

export interface UserError {
  readonly code: UserErrorCode;
  readonly field: 'name' | 'email' | null;
  readonly message: string;
}
