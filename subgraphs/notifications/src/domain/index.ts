export * from './model';
export { mayReadEmails, mayResend, READ_USERS_SCOPE, WRITE_NOTIFICATIONS_SCOPE } from './access';
export { consumeUserRecords, beginAttempt, renewClaim, recordOutcome, resendWelcome, type AttemptOutcome, type Claimant, type ConsumedRecord, type ResendResult } from './commands';
export { deliveryById, deliveriesOf, liveClaimOfOther, pendingDeliveries, queuedDeliveries, welcomeOf, welcomeDeliveryId } from './queries';
export { messageIdDomainOf, renderWelcomeEmail, type EmailContent } from './welcome-email';
