export * from './model';
export { mayReadEmails, mayReadPoisoned, mayResend, READ_USERS_SCOPE, WRITE_NOTIFICATIONS_SCOPE } from './access';
export { consumeUserRecords, beginAttempt, renewClaim, recordOutcome, resendWelcome, type AttemptOutcome, type BegunAttempt, type Claimant, type Consumed, type Lease, type ConsumedRecord, type ResendResult } from './commands';
export { deliveryById, deliveriesOf, claimKey, holdsClaim, poisonedEvents, pendingDeliveries, queuedDeliveries, welcomeOf, welcomeDeliveryId } from './queries';
export { messageIdDomainOf, renderWelcomeEmail, type EmailContent } from './welcome-email';
