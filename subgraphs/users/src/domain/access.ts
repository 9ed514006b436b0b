import { isSelfOrHasScope, type Viewer } from '../../../../lib/viewer';

/** The scope that lets a caller read every user's record, addresses included. */
export const READ_USERS_SCOPE = 'users:read';

/** A user's email address is theirs to read, and readable to holders of `users:read`. */
export const mayReadEmail = (viewer: Viewer | undefined, userId: string): boolean => isSelfOrHasScope(viewer, userId, READ_USERS_SCOPE);

/** The list of every user is for holders of `users:read` only. */
export const mayListUsers = (viewer: Viewer | undefined): boolean => viewer?.scopes.has(READ_USERS_SCOPE) ?? false;
