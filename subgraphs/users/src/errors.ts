// The users service's error catalog. Pure: the domain builds its refusals here.

/** Every code this service answers with on purpose. */
export const UsersErrorCode = {
  /** A sign-up's email is not an address, or too long. */
  INVALID_EMAIL: 'INVALID_EMAIL',
  /** A sign-up's email (compared without case) belongs to another user. */
  EMAIL_TAKEN: 'EMAIL_TAKEN',
  /** A sign-up's name is empty, too long, or holds control characters. */
  INVALID_NAME: 'INVALID_NAME',
  /** A query argument is out of range or not one this API issued (a GraphQL error, not a refusal value). */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** The caller may not read this field: another user's address without the `users:read` scope (a GraphQL error). */
  FORBIDDEN: 'FORBIDDEN',
  /**
   * The log could not be reached (its database is down): the sign-up was not
   * confirmed. It may still have been stored, so a retry can meet EMAIL_TAKEN.
   */
  UNAVAILABLE: 'UNAVAILABLE',
} as const;

/** A refused sign-up, as `addUser` answers it: a value clients switch on by `code`. */
export interface UserError {
  readonly code: typeof UsersErrorCode.INVALID_EMAIL | typeof UsersErrorCode.EMAIL_TAKEN | typeof UsersErrorCode.INVALID_NAME;
  readonly field: 'name' | 'email';
  readonly message: string;
}

export type UserErrorCode = UserError['code'];

export const invalidName = (message: string): UserError => ({ code: UsersErrorCode.INVALID_NAME, field: 'name', message });

export const invalidEmail = (message: string): UserError => ({ code: UsersErrorCode.INVALID_EMAIL, field: 'email', message });

export const emailTaken = (): UserError => ({ code: UsersErrorCode.EMAIL_TAKEN, field: 'email', message: 'A user with this email already exists.' });
