export * from './model';
export { mayListUsers, mayReadEmail, READ_USERS_SCOPE } from './access';
export { DEFAULT_KEY_RETENTION_MS, signUp, type SignUpResult } from './commands';
export { userById, usersAfter, type UserPage } from './queries';
export { validateNewUser, MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, MAX_IDEMPOTENCY_KEY_LENGTH, MIN_IDEMPOTENCY_KEY_LENGTH } from './validation';
export { usersSnapshotCodec } from './snapshot-codec';
