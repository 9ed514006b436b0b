import type { Immutable } from 'immer';
import type { Command } from '../../../../lib/store';
import { unreachable } from '../../../../lib/unreachable';
import type { Viewer } from '../../../../lib/viewer';
import { forbidden, notFailed, unknownUser, type NotificationError } from '../errors';
import { mayResend, WRITE_NOTIFICATIONS_SCOPE } from './access';
import type { Claim, Delivery, NotificationsState, UserAdded } from './model';
import { deliveryById, liveClaimOfOther, welcomeDeliveryId, welcomeOf } from './queries';
import { extendClaim, markFailed, markRetrying, markSent, queueDeliveries, requeue, startAttempt } from './recipes';
import { welcomeSubject } from './welcome-email';

type NotificationsCommand<R> = Command<NotificationsState, never, R>;

export interface ConsumedRecord {
  readonly version: number;
  readonly events: readonly unknown[];
}

const isUserAdded = (event: unknown): event is UserAdded =>
  typeof event === 'object' && event !== null && (event as { type?: unknown }).type === 'UserAdded';

/**
 * Turns the users' log records after the cursor into welcome deliveries and
 * moves the cursor past them, in one write: each `UserAdded` yields exactly
 * one delivery, however often the records are read.
 */
export const consumeUserRecords =
  (records: readonly ConsumedRecord[], made: { readonly now: string; readonly messageIdDomain: string }): NotificationsCommand<Delivery[]> =>
  (state) => {
    const fresh = records.filter((record) => record.version > state.cursor);
    if (fresh.length === 0) return { result: [] };
    const deliveries: Delivery[] = [];
    for (const event of fresh.flatMap((record) => record.events).filter(isUserAdded)) {
      const { id: userId, name, email } = event.user;
      if (welcomeOf(state, userId) || deliveries.some((delivery) => delivery.userId === userId)) continue;
      const id = welcomeDeliveryId(userId);
      deliveries.push({
        id,
        userId,
        kind: 'WELCOME',
        to: email,
        toName: name,
        subject: welcomeSubject(name),
        status: 'QUEUED',
        attempts: 0,
        createdAt: made.now,
        sentAt: null,
        messageId: `<${id}@${made.messageIdDomain}>`,
        lastError: null,
      });
    }
    const cursor = fresh.at(-1)!.version;
    return { recipe: (draft) => queueDeliveries(draft, deliveries, cursor), result: deliveries };
  };

/** Who asks to send: a replica id, the time it asks (ISO) and the end of the lease it asks for (ISO). */
export interface Claimant {
  readonly replica: string;
  readonly now: string;
  readonly until: string;
}

/**
 * Records that an SMTP conversation is about to start and, given a claimant,
 * claims the delivery for it until `until`: compare-and-append makes that
 * replica the one sender. Undefined (nothing written) when the delivery is no
 * longer QUEUED, or another replica's claim on it has not expired at `now`.
 */
export const beginAttempt =
  (id: string, claimant?: Claimant): NotificationsCommand<Immutable<Delivery> | undefined> =>
  (state) => {
    const delivery = deliveryById(state, id);
    if (delivery?.status !== 'QUEUED') return { result: undefined };
    if (claimant && liveClaimOfOther(delivery, claimant.replica, claimant.now)) return { result: undefined };
    const claim: Claim | undefined = claimant && { by: claimant.replica, until: claimant.until };
    return { recipe: (draft) => startAttempt(draft, id, claim), result: delivery };
  };

/**
 * Extends the claimer's lease while its SMTP conversation runs; true when the
 * delivery is still QUEUED and claimed by `claim.by`, false when it was taken over or settled.
 */
export const renewClaim =
  (id: string, claim: Claim): NotificationsCommand<boolean> =>
  (state) => {
    const delivery = deliveryById(state, id);
    if (delivery?.status !== 'QUEUED' || delivery.claim?.by !== claim.by) return { result: false };
    if (Date.parse(delivery.claim.until) >= Date.parse(claim.until)) return { result: true };
    return { recipe: (draft) => extendClaim(draft, id, claim.until), result: true };
  };

export type AttemptOutcome =
  | { readonly kind: 'sent'; readonly at: string }
  /** `hold`: the claimer keeps the delivery until its next attempt, so no other replica retries it sooner. */
  | { readonly kind: 'retrying'; readonly error: string; readonly hold?: Claim }
  | { readonly kind: 'failed'; readonly error: string };

/** Records how an attempt ended; nothing when the delivery is no longer QUEUED (another replica settled it). */
export const recordOutcome =
  (id: string, outcome: AttemptOutcome): NotificationsCommand<void> =>
  (state) => {
    if (deliveryById(state, id)?.status !== 'QUEUED') return { result: undefined };
    return {
      recipe: (draft) => {
        switch (outcome.kind) {
          case 'sent':
            return markSent(draft, id, outcome.at);
          case 'retrying':
            return markRetrying(draft, id, outcome.error, outcome.hold);
          case 'failed':
            return markFailed(draft, id, outcome.error);
          default:
            return unreachable(outcome);
        }
      },
      result: undefined,
    };
  };

export type ResendResult =
  | { readonly delivery: Immutable<Delivery>; readonly errors: readonly [] }
  | { readonly delivery: null; readonly errors: readonly NotificationError[] };

/** Queues a FAILED welcome email again. */
export const resendWelcome =
  (userId: string, viewer: Viewer | undefined): NotificationsCommand<ResendResult> =>
  (state) => {
    if (!mayResend(viewer, userId)) {
      return { result: { delivery: null, errors: [forbidden(`Only the user themselves, or a caller with the ${WRITE_NOTIFICATIONS_SCOPE} scope, may resend their welcome email.`)] } };
    }
    const welcome = welcomeOf(state, userId);
    if (!welcome) {
      return { result: { delivery: null, errors: [unknownUser(userId)] } };
    }
    if (welcome.status !== 'FAILED') {
      return { result: { delivery: null, errors: [notFailed(welcome.status)] } };
    }
    return {
      recipe: (draft) => requeue(draft, welcome.id),
      result: { delivery: { ...welcome, status: 'QUEUED' }, errors: [] },
    };
  };
