import type { Immutable } from 'immer';
import type { Command } from '../../../../lib/store';
import { unreachable } from '../../../../lib/unreachable';
import { notFailed, unknownUser, type NotificationError } from '../errors';
import type { Delivery, NotificationsState, UserAdded } from './model';
import { deliveryById, welcomeDeliveryId, welcomeOf } from './queries';
import { markFailed, markRetrying, markSent, queueDeliveries, requeue, startAttempt } from './recipes';
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

/** Records that an SMTP conversation is about to start; undefined when the delivery is no longer QUEUED. */
export const beginAttempt =
  (id: string): NotificationsCommand<Immutable<Delivery> | undefined> =>
  (state) => {
    const delivery = deliveryById(state, id);
    if (delivery?.status !== 'QUEUED') return { result: undefined };
    return { recipe: (draft) => startAttempt(draft, id), result: delivery };
  };

export type AttemptOutcome =
  | { readonly kind: 'sent'; readonly at: string }
  | { readonly kind: 'retrying'; readonly error: string }
  | { readonly kind: 'failed'; readonly error: string };

export const recordOutcome =
  (id: string, outcome: AttemptOutcome): NotificationsCommand<void> =>
  () => ({
    recipe: (draft) => {
      switch (outcome.kind) {
        case 'sent':
          return markSent(draft, id, outcome.at);
        case 'retrying':
          return markRetrying(draft, id, outcome.error);
        case 'failed':
          return markFailed(draft, id, outcome.error);
        default:
          return unreachable(outcome);
      }
    },
    result: undefined,
  });

export type ResendResult =
  | { readonly delivery: Immutable<Delivery>; readonly errors: readonly [] }
  | { readonly delivery: null; readonly errors: readonly NotificationError[] };

/** Queues a FAILED welcome email again. */
export const resendWelcome =
  (userId: string): NotificationsCommand<ResendResult> =>
  (state) => {
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
