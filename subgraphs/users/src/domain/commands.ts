import type { Immutable } from 'immer';
import type { Command } from '../../../../lib/store';
import { emailTaken, idempotencyKeyReused, type UserError } from '../errors';
import type { User, UsersEvent, UsersState } from './model';
import { isEmailTaken, userByKey } from './queries';
import { addUser, expireKeys, keyRetained } from './recipes';
import { validateNewUser, type NewUserInput } from './validation';

export type SignUpResult =
  | {
      readonly user: Immutable<User>;
      readonly errors: readonly [];
      /** True when an earlier sign-up with the same idempotency key made this user. */
      readonly replayed: boolean;
    }
  | { readonly user: null; readonly errors: readonly UserError[] };

/** How long a sign-up's idempotency key is honoured: a day, as Stripe keeps its keys. */
export const DEFAULT_KEY_RETENTION_MS = 24 * 60 * 60 * 1000;

/**
 * Signs a user up: validation, then the idempotency key, then uniqueness
 * against the newest state, then the recipe and its `UserAdded` event. A
 * refusal writes nothing, and is not kept under the key: the same input meets
 * the same refusal again, since validation is pure and a taken email stays taken.
 */
export const signUp =
  (
    input: NewUserInput,
    made: { readonly id: string; readonly createdAt: string },
    { keyRetentionMs = DEFAULT_KEY_RETENTION_MS }: { readonly keyRetentionMs?: number } = {},
  ): Command<UsersState, UsersEvent, SignUpResult> =>
  (state) => {
    const validated = validateNewUser(input);
    if (!validated.ok) return { result: { user: null, errors: validated.errors } };
    const { value } = validated;
    const earlier = value.idempotencyKey === undefined ? undefined : userByKey(state, value.idempotencyKey);
    if (earlier && keyRetained(earlier.createdAt, made.createdAt, keyRetentionMs)) {
      const same = earlier.name === value.name && earlier.email === value.email;
      return { result: same ? { user: earlier, errors: [], replayed: true } : { user: null, errors: [idempotencyKeyReused()] } };
    }
    if (isEmailTaken(state, value.email)) {
      return { result: { user: null, errors: [emailTaken()] } };
    }
    const user: User = { ...value, ...made, seq: state.count + 1 };
    const { idempotencyKey: _clientKey, ...told } = user;
    return {
      recipe: (draft) => {
        addUser(draft, user);
        expireKeys(draft, made.createdAt, keyRetentionMs);
      },
      events: [{ type: 'UserAdded', user: told }],
      result: { user, errors: [], replayed: false },
    };
  };
