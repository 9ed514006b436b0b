import type { Draft } from 'immer';
import { trieDelete, trieGet, trieSet } from '../../../../lib/hash-trie';
import type { Claim, Delivery, NotificationsState, PoisonedEvent } from './model';

type D = Draft<NotificationsState>;

const deliveryIn = (draft: D, id: string): Draft<Delivery> => {
  const delivery = trieGet(draft.deliveries, id) as Draft<Delivery> | undefined;
  if (!delivery) throw new Error(`no delivery ${id}`);
  return delivery;
};

const markQueued = (draft: D, id: string): void => {
  trieSet(draft.queuedIds, id, id);
};

const unmarkQueued = (draft: D, id: string): void => {
  trieDelete(draft.queuedIds, id);
};

/** Queues new deliveries and advances the cursor in the same write. */
export const queueDeliveries = (draft: D, deliveries: readonly Delivery[], cursor: number): void => {
  for (const delivery of deliveries) {
    trieSet(draft.deliveries, delivery.id, delivery);
    const ids = trieGet(draft.deliveryIdsByUser, delivery.userId) ?? [];
    trieSet(draft.deliveryIdsByUser, delivery.userId, [...ids, delivery.id]);
    if (delivery.status === 'QUEUED') markQueued(draft, delivery.id);
  }
  draft.cursor = cursor;
};

/** Counts an attempt and claims it for its replica. */
export const startAttempt = (draft: D, id: string, claim: Claim): void => {
  const delivery = deliveryIn(draft, id);
  delivery.attempts += 1;
  delivery.claim = { ...claim };
};

/** Renews the claim: a new lease, from now, under a new key. */
export const extendClaim = (draft: D, id: string, lease: { readonly leaseMs: number; readonly until: string }): void => {
  const { claim } = deliveryIn(draft, id);
  if (claim) Object.assign(claim, { leaseMs: lease.leaseMs, until: lease.until, renewals: claim.renewals + 1 });
};

export const markSent = (draft: D, id: string, sentAt: string): void => {
  const delivery = deliveryIn(draft, id);
  Object.assign(delivery, { status: 'SENT', sentAt, lastError: null });
  delete delivery.claim;
  unmarkQueued(draft, id);
};

/** A transient failure: stays QUEUED for another attempt, its claim (renewed with the hold) kept until then. */
export const markRetrying = (draft: D, id: string, error: string, hold: { readonly leaseMs: number; readonly until: string }): void => {
  deliveryIn(draft, id).lastError = error;
  extendClaim(draft, id, hold);
};

export const markFailed = (draft: D, id: string, error: string): void => {
  const delivery = deliveryIn(draft, id);
  Object.assign(delivery, { status: 'FAILED', lastError: error });
  delete delivery.claim;
  unmarkQueued(draft, id);
};

export const requeue = (draft: D, id: string): void => {
  const delivery = deliveryIn(draft, id);
  delivery.status = 'QUEUED';
  delete delivery.claim;
  markQueued(draft, id);
};

export const recordPoisoned = (draft: D, poisoned: readonly PoisonedEvent[]): void => {
  draft.poisoned ??= [];
  draft.poisoned.push(...poisoned);
};
