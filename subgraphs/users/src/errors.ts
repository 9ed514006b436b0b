// The users service's error catalog. Pure: the domain builds its refusals here.

/** Every code this service answers with on purpose. */
export const UsersErrorCode = {
  /** A sign-up's email is not an address, or too long. */
  INVALID_EMAIL: 'INVALID_EMAIL',
  /** A sign-up's email (compared without case) belongs to another user. */
  EMAIL_TAKEN: 'EMAIL_TAKEN',
  /** A sign-up's name is empty, too long, or holds control characters. */
  INVALID_NAME: 'INVALID_NAME',
  /** A sign-up's idempotency key is too short, too long, or holds spaces or non-ASCII characters. */
  INVALID_IDEMPOTENCY_KEY: 'INVALID_IDEMPOTENCY_KEY',
  /** A sign-up's idempotency key was used, within its retention, by a sign-up with another name or email. */
  IDEMPOTENCY_KEY_REUSED: 'IDEMPOTENCY_KEY_REUSED',
  /** A query argument is out of range or not one this API issued (a GraphQL error, not a refusal value). */
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  /** The caller may not read this field: another user's address without the `users:read` scope (a GraphQL error). */
  FORBIDDEN: 'FORBIDDEN',
  /**
   * The log could not be reached (its database is down) or other writers kept
   * winning the race for it: the sign-up was not confirmed. It may still have
   * been stored: a retry with the same idempotency key answers with that user.
   */
  UNAVAILABLE: 'UNAVAILABLE',
} as const;

/** A refused sign-up, as `addUser` answers it: a value clients switch on by `code`. */
export interface UserError {
  readonly code:
    | typeof UsersErrorCode.INVALID_EMAIL
    | typeof UsersErrorCode.EMAIL_TAKEN
    | typeof UsersErrorCode.INVALID_NAME
    | typeof UsersErrorCode.INVALID_IDEMPOTENCY_KEY
    | typeof UsersErrorCode.IDEMPOTENCY_KEY_REUSED;
  readonly field: 'name' | 'email' | 'idempotencyKey';
  readonly message: string;
}

export type UserErrorCode = UserError['code'];

export const invalidName = (message: string): UserError => ({ code: UsersErrorCode.INVALID_NAME, field: 'name', message });

export const invalidEmail = (message: string): UserError => ({ code: UsersErrorCode.INVALID_EMAIL, field: 'email', message });

export const emailTaken = (): UserError => ({ code: UsersErrorCode.EMAIL_TAKEN, field: 'email', message: 'A user with this email already exists.' });

export const invalidIdempotencyKey = (message: string): UserError => ({ code: UsersErrorCode.INVALID_IDEMPOTENCY_KEY, field: 'idempotencyKey', message });

export const idempotencyKeyReused = (): UserError => ({
  code: UsersErrorCode.IDEMPOTENCY_KEY_REUSED,
  field: 'idempotencyKey',
  message: 'This idempotency key was used for a sign-up with another name or email; use a new key for a new sign-up.',
});
