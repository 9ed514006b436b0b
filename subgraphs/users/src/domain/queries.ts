import type { Immutable } from 'immer';
import { trieGet } from '../../../../lib/hash-trie';
import { orderSlot, type User, type UsersState } from './model';
import { emailKey } from './validation';

type State = Immutable<UsersState>;

export const userById = (state: State, id: string): Immutable<User> | undefined => trieGet(state.byId, id);

/** The user whose sign-up carried idempotency key `key`, while the key is kept. */
export const userByKey = (state: State, key: string): Immutable<User> | undefined => {
  const id = trieGet(state.idByKey, key);
  return id === undefined ? undefined : trieGet(state.byId, id);
};

export const isEmailTaken = (state: State, email: string): boolean => trieGet(state.idByEmail, emailKey(email)) !== undefined;

export interface UserPage {
  readonly users: readonly Immutable<User>[];
  readonly hasNextPage: boolean;
  readonly totalCount: number;
}

/** Up to `first` users after sign-up position `afterSeq`, in sign-up order. */
export const usersAfter = (state: State, afterSeq: number, first: number): UserPage => {
  const users: Immutable<User>[] = [];
  const last = Math.min(state.count, afterSeq + first);
  for (let seq = afterSeq + 1; seq <= last; seq++) {
    const [top, middle, slot] = orderSlot(seq);
    const id = state.order[top]?.[middle]?.[slot];
    const user = id === undefined ? undefined : trieGet(state.byId, id);
    if (user) users.push(user);
  }
  return { users, hasNextPage: last < state.count, totalCount: state.count };
};
