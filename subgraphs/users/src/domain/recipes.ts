import type { Draft } from 'immer';
import { trieSet } from '../../../../lib/hash-trie';
import type { User, UsersState } from './model';
import { emailKey } from './validation';

/** Adds a validated user whose email is free. Pure: id, time and position are given. */
export const addUser = (draft: Draft<UsersState>, user: User): void => {
  trieSet(draft.byId, user.id, user);
  trieSet(draft.idByEmail, emailKey(user.email), user.id);
  trieSet(draft.idBySeq, String(user.seq), user.id);
  draft.count = user.seq;
};
