import type { Immutable } from 'immer';
import { z } from 'zod';
import type { Command } from '../../../../lib/store';
import type { Viewer } from '../../../../lib/viewer';
import { forbidden, notFailed, unknownUser, type NotificationError } from '../errors';
import { mayResend, WRITE_NOTIFICATIONS_SCOPE } from './access';
import type { Claim, Delivery, Fence, NotificationsState, PoisonedEvent, UserAdded } from './model';
import { claimKey, deliveryById, holdsClaim, welcomeDeliveryId, welcomeOf } from './queries';
import { extendClaim, markFailed, markRetrying, markSent, queueDeliveries, recordPoisoned, requeue, startAttempt } from './recipes';
import { welcomeSubject } from './welcome-email';

type NotificationsCommand<R> = Command<NotificationsState, never, R>;

export interface ConsumedRecord {
  readonly version: number;
  readonly events: readonly unknown[];
  readonly trace?: string;
}

const userAdded = z.object({
  type: z.literal('UserAdded'),
  user: z.object({ id: z.string().min(1), name: z.string(), email: z.string().min(3), createdAt: z.string() }),
});

/** The events this service consumes, the malformed ones among them, and those meant for others. */
const readEvent = (event: unknown): { readonly added: UserAdded } | { readonly poison: string } | undefined => {
  if (typeof event !== 'object' || event === null || typeof (event as { type?: unknown }).type !== 'string') return { poison: 'not an event: no type' };
  if ((event as { type: string }).type !== 'UserAdded') return undefined;
  const parsed = userAdded.safeParse(event);
  return parsed.success ? { added: parsed.data } : { poison: `malformed UserAdded: ${z.prettifyError(parsed.error).replaceAll('\n', '; ')}` };
};

export interface Consumed {
  readonly queued: Delivery[];
  readonly poisoned: PoisonedEvent[];
}

/**
 * Turns the users' log records after the cursor into welcome deliveries and
 * moves the cursor past them, in one write: each `UserAdded` yields exactly
 * one delivery, however often the records are read. An event it cannot read
 * is recorded as poisoned in the same write, and the rest go on.
 */
export const consumeUserRecords =
  (records: readonly ConsumedRecord[], made: { readonly now: string; readonly messageIdDomain: string }): NotificationsCommand<Consumed> =>
  (state) => {
    const fresh = records.filter((record) => record.version > state.cursor);
    if (fresh.length === 0) return { result: { queued: [], poisoned: [] } };
    const queued: Delivery[] = [];
    const poisoned: PoisonedEvent[] = [];
    for (const { version, events, trace } of fresh) {
      events.forEach((event, index) => {
        const read = readEvent(event);
        if (!read) return;
        if ('poison' in read) return void poisoned.push({ version, index, reason: read.poison, at: made.now });
        const { id: userId, name, email } = read.added.user;
        if (welcomeOf(state, userId) || queued.some((delivery) => delivery.userId === userId)) return;
        const id = welcomeDeliveryId(userId);
        queued.push({
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
          ...(trace && { trace }),
        });
      });
    }
    const cursor = fresh.at(-1)!.version;
    return {
      recipe: (draft) => {
        queueDeliveries(draft, queued, cursor);
        if (poisoned.length) recordPoisoned(draft, poisoned);
      },
      result: { queued, poisoned },
    };
  };

/** Who asks to send, and for how long. */
export interface Claimant {
  readonly replica: string;
  readonly leaseMs: number;
  /** ISO end of the lease by this replica's wall clock, for people reading the state. */
  readonly until: string;
  /** The key of another replica's claim this replica watched outlive its lease: taken over only if it is still that claim. */
  readonly takeOver?: string;
}

export interface BegunAttempt {
  /** The delivery before this attempt was counted. */
  readonly delivery: Immutable<Delivery>;
  /** What the attempt's renewals and outcome must show. */
  readonly fence: Fence;
}

/**
 * Records that an SMTP conversation is about to start and claims the delivery
 * for the claimant: compare-and-append makes that replica the one sender.
 * Undefined (nothing written) when the delivery is no longer QUEUED, or
 * another replica claims it and it is not the claim the claimant watched expire.
 */
export const beginAttempt =
  (id: string, claimant: Claimant): NotificationsCommand<BegunAttempt | undefined> =>
  (state) => {
    const delivery = deliveryById(state, id);
    if (delivery?.status !== 'QUEUED') return { result: undefined };
    const { claim } = delivery;
    if (claim && claim.by !== claimant.replica && claimant.takeOver !== claimKey(claim)) return { result: undefined };
    const fence = { by: claimant.replica, attempt: delivery.attempts + 1 };
    const next: Claim = { ...fence, leaseMs: claimant.leaseMs, renewals: 0, until: claimant.until };
    return { recipe: (draft) => startAttempt(draft, id, next), result: { delivery, fence } };
  };

export interface Lease {
  readonly leaseMs: number;
  readonly until: string;
}

/**
 * Renews the claim of the attempt `fence` names with a fresh lease; true when
 * it still holds, false (nothing written) when it was taken over or settled.
 */
export const renewClaim =
  (id: string, fence: Fence, lease: Lease): NotificationsCommand<boolean> =>
  (state) => {
    if (!holdsClaim(deliveryById(state, id), fence)) return { result: false };
    return { recipe: (draft) => extendClaim(draft, id, lease), result: true };
  };

export type AttemptOutcome =
  | { readonly kind: 'sent'; readonly at: string }
  /** `hold`: the claimer keeps the delivery until its next attempt, so no other replica retries it sooner. */
  | { readonly kind: 'retrying'; readonly error: string; readonly hold: Lease }
  | { readonly kind: 'failed'; readonly error: string };

/**
 * Records how an attempt ended. `sent` is a fact whoever reports it, so it
 * settles the delivery unless it is SENT already; `retrying` and `failed`
 * count only from the attempt that still holds the claim, so a replica
 * whose claim was taken over cannot undo what the new holder did.
 * True when something was written.
 */
export const recordOutcome =
  (id: string, fence: Fence, outcome: AttemptOutcome): NotificationsCommand<boolean> =>
  (state) => {
    const delivery = deliveryById(state, id);
    if (outcome.kind === 'sent') {
      if (!delivery || delivery.status === 'SENT') return { result: false };
      return { recipe: (draft) => markSent(draft, id, outcome.at), result: true };
    }
    if (!holdsClaim(delivery, fence)) return { result: false };
    return {
      recipe: (draft) => (outcome.kind === 'retrying' ? markRetrying(draft, id, outcome.error, outcome.hold) : markFailed(draft, id, outcome.error)),
      result: true,
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
