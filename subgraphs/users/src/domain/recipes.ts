import type { Draft } from 'immer';
import { trieDelete, trieGet, trieSet } from '../../../../lib/hash-trie';
import { orderSlot, type User, type UsersState } from './model';
import { emailKey } from './validation';

/** Adds a validated user whose email is free. Pure: id, time and position are given. */
export const addUser = (draft: Draft<UsersState>, user: User): void => {
  trieSet(draft.byId, user.id, user);
  trieSet(draft.idByEmail, emailKey(user.email), user.id);
  if (user.idempotencyKey !== undefined) trieSet(draft.idByKey, user.idempotencyKey, user.id);
  const [top, middle, slot] = orderSlot(user.seq);
  const leaf = ((draft.order[top] ??= [])[middle] ??= []);
  leaf[slot] = user.id;
  draft.count = user.seq;
};

/** Users an expiry pass looks at, at most: bounded work per sign-up, more than the one key a sign-up adds. */
export const EXPIRY_STEPS = 4;

/** Whether a key stored at `createdAt` is still honoured at `now` (both ISO 8601). */
export const keyRetained = (createdAt: string, now: string, retentionMs: number): boolean =>
  Date.parse(now) - Date.parse(createdAt) < retentionMs;

/**
 * Drops the idempotency keys of the oldest users whose retention is over, in
 * sign-up order, looking at `EXPIRY_STEPS` users at most; stops at the first
 * key still retained.
 */
export const expireKeys = (draft: Draft<UsersState>, now: string, retentionMs: number): void => {
  for (let step = 0; step < EXPIRY_STEPS && draft.keysExpiredThrough < draft.count; step++) {
    const seq = draft.keysExpiredThrough + 1;
    const [top, middle, slot] = orderSlot(seq);
    const id = draft.order[top]![middle]![slot]!;
    const user = trieGet(draft.byId as never, id) as Draft<User>;
    if (user.idempotencyKey !== undefined) {
      if (keyRetained(user.createdAt, now, retentionMs)) return;
      // A later sign-up may have reused the expired key: that one keeps it.
      if (trieGet(draft.idByKey as never, user.idempotencyKey) === id) trieDelete(draft.idByKey, user.idempotencyKey);
      delete user.idempotencyKey;
    }
    draft.keysExpiredThrough = seq;
  }
};
