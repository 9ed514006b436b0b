import type { Draft } from 'immer';
import { trieGet, trieSet } from '../../../../lib/hash-trie';
import type { Delivery, NotificationsState } from './model';

type D = Draft<NotificationsState>;

const deliveryIn = (draft: D, id: string): Draft<Delivery> => {
  const delivery = trieGet(draft.deliveries, id) as Draft<Delivery> | undefined;
  if (!delivery) throw new Error(`no delivery ${id}`);
  return delivery;
};

/** Queues new deliveries and advances the cursor in the same write. */
export const queueDeliveries = (draft: D, deliveries: readonly Delivery[], cursor: number): void => {
  for (const delivery of deliveries) {
    trieSet(draft.deliveries, delivery.id, delivery);
    const ids = trieGet(draft.deliveryIdsByUser, delivery.userId) ?? [];
    trieSet(draft.deliveryIdsByUser, delivery.userId, [...ids, delivery.id]);
  }
  draft.cursor = cursor;
};

export const startAttempt = (draft: D, id: string): void => {
  deliveryIn(draft, id).attempts += 1;
};

export const markSent = (draft: D, id: string, sentAt: string): void => {
  Object.assign(deliveryIn(draft, id), { status: 'SENT', sentAt, lastError: null });
};

/** A transient failure: stays QUEUED for another attempt. */
export const markRetrying = (draft: D, id: string, error: string): void => {
  deliveryIn(draft, id).lastError = error;
};

export const markFailed = (draft: D, id: string, error: string): void => {
  Object.assign(deliveryIn(draft, id), { status: 'FAILED', lastError: error });
};

export const requeue = (draft: D, id: string): void => {
  deliveryIn(draft, id).status = 'QUEUED';
};
