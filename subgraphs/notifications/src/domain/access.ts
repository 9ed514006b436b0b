import { isSelfOrHasScope, type Viewer } from '../../../../lib/viewer';

/** The scope that lets a caller read every user's emails (addresses and errors included). */
export const READ_USERS_SCOPE = 'users:read';
/** The scope that lets a caller resend anyone's welcome email. */
export const WRITE_NOTIFICATIONS_SCOPE = 'notifications:write';

/** A user's emails are theirs to read, and readable to holders of `users:read`. */
export const mayReadEmails = (viewer: Viewer | undefined, userId: string): boolean => isSelfOrHasScope(viewer, userId, READ_USERS_SCOPE);

/** A user may have their own welcome email resent; holders of `notifications:write` anyone's. */
export const mayResend = (viewer: Viewer | undefined, userId: string): boolean => isSelfOrHasScope(viewer, userId, WRITE_NOTIFICATIONS_SCOPE);

/** The events this service could not consume are for operators: holders of `notifications:write`. */
export const mayReadPoisoned = (viewer: Viewer | undefined): boolean => viewer?.scopes.has(WRITE_NOTIFICATIONS_SCOPE) ?? false;
