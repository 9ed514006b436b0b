import type { Draft } from 'immer';
import { trieSet } from '../../../../lib/hash-trie';
import { orderSlot, type User, type UsersState } from './model';
import { emailKey } from './validation';

/** Adds a validated user whose email is free. Pure: id, time and position are given. */
export const addUser = (draft: Draft<UsersState>, user: User): void => {
  trieSet(draft.byId, user.id, user);
  trieSet(draft.idByEmail, emailKey(user.email), user.id);
  const [top, middle, slot] = orderSlot(user.seq);
  const leaf = ((draft.order[top] ??= [])[middle] ??= []);
  leaf[slot] = user.id;
  draft.count = user.seq;
};
