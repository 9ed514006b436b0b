// The notifications service's error catalog. Pure: the domain builds its refusals here.

/** Every code this service answers with on purpose. */
export const NotificationsErrorCode = {
  /** `resendWelcomeEmail` for a user without a welcome email. */
  UNKNOWN_USER: 'UNKNOWN_USER',
  /** `resendWelcomeEmail` for a welcome email that has not FAILED. */
  NOT_FAILED: 'NOT_FAILED',
  /** The caller may not read or act on this user's emails: not their own, and no scope that allows it. */
  FORBIDDEN: 'FORBIDDEN',
} as const;

export type NotificationErrorCode = (typeof NotificationsErrorCode)[keyof typeof NotificationsErrorCode];

/** A refused request, answered as a value clients switch on by `code`. */
export interface NotificationError {
  readonly code: NotificationErrorCode;
  readonly message: string;
}

export const unknownUser = (userId: string): NotificationError => ({
  code: NotificationsErrorCode.UNKNOWN_USER,
  message: `No welcome email is known for user ${userId}.`,
});

export const forbidden = (message: string): NotificationError => ({ code: NotificationsErrorCode.FORBIDDEN, message });

export const notFailed = (status: string): NotificationError => ({
  code: NotificationsErrorCode.NOT_FAILED,
  message: `The welcome email is ${status}; only a FAILED one can be resent.`,
});
