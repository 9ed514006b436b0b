import type { Immutable } from 'immer';
import { trieGet, trieValues } from '../../../../lib/hash-trie';
import type { Claim, Delivery, NotificationsState } from './model';

type State = Immutable<NotificationsState>;

export const welcomeDeliveryId = (userId: string): string => `welcome-${userId}`;

export const deliveryById = (state: State, id: string): Immutable<Delivery> | undefined => trieGet(state.deliveries, id);

export const welcomeOf = (state: State, userId: string): Immutable<Delivery> | undefined =>
  deliveryById(state, welcomeDeliveryId(userId));

export const deliveriesOf = (state: State, userId: string): Immutable<Delivery>[] =>
  (trieGet(state.deliveryIdsByUser, userId) ?? []).flatMap((id) => deliveryById(state, id) ?? []);

/** Deliveries still to send, from the index of queued ones: what a periodic scan may afford. */
export const pendingDeliveries = (state: State): Immutable<Delivery>[] =>
  [...trieValues(state.queuedIds ?? {})].flatMap((id) => {
    const delivery = deliveryById(state, id);
    return delivery?.status === 'QUEUED' ? [delivery] : [];
  });

/** Deliveries still to send, oldest first. Scans everything: for start-up only. */
export const queuedDeliveries = (state: State): Immutable<Delivery>[] =>
  [...trieValues(state.deliveries)]
    .filter((delivery) => delivery.status === 'QUEUED')
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));

/** The claim of another replica than `replica` whose lease still runs at `now` (ISO), if any. */
export const liveClaimOfOther = (delivery: Immutable<Delivery>, replica: string, now: string): Claim | undefined =>
  delivery.claim && delivery.claim.by !== replica && Date.parse(delivery.claim.until) > Date.parse(now) ? delivery.claim : undefined;
