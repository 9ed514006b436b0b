import type { Immutable } from 'immer';
import type { Command } from '../../../../lib/store';
import { emailTaken, type UserError } from '../errors';
import type { User, UsersEvent, UsersState } from './model';
import { isEmailTaken } from './queries';
import { addUser } from './recipes';
import { validateNewUser, type NewUserInput } from './validation';

export type SignUpResult = { readonly user: Immutable<User>; readonly errors: readonly [] } | { readonly user: null; readonly errors: readonly UserError[] };

/**
 * Signs a user up: validation, then uniqueness against the newest state, then
 * the recipe and its `UserAdded` event. A refusal writes nothing.
 */
export const signUp =
  (input: NewUserInput, made: { readonly id: string; readonly createdAt: string }): Command<UsersState, UsersEvent, SignUpResult> =>
  (state) => {
    const validated = validateNewUser(input);
    if (!validated.ok) return { result: { user: null, errors: validated.errors } };
    if (isEmailTaken(state, validated.value.email)) {
      return { result: { user: null, errors: [emailTaken()] } };
    }
    const user: User = { ...validated.value, ...made, seq: state.count + 1 };
    return { recipe: (draft) => addUser(draft, user), events: [{ type: 'UserAdded', user }], result: { user, errors: [] } };
  };
