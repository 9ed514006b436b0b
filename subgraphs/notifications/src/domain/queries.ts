import type { Immutable } from 'immer';
import { trieGet, trieValues } from '../../../../lib/hash-trie';
import type { Claim, Delivery, Fence, NotificationsState, PoisonedEvent } from './model';

type State = Immutable<NotificationsState>;

export const welcomeDeliveryId = (userId: string): string => `welcome-${userId}`;

export const deliveryById = (state: State, id: string): Immutable<Delivery> | undefined => trieGet(state.deliveries, id);

export const welcomeOf = (state: State, userId: string): Immutable<Delivery> | undefined =>
  deliveryById(state, welcomeDeliveryId(userId));

export const deliveriesOf = (state: State, userId: string): Immutable<Delivery>[] =>
  (trieGet(state.deliveryIdsByUser, userId) ?? []).flatMap((id) => deliveryById(state, id) ?? []);

/** Deliveries still to send, from the index of queued ones: what a periodic scan may afford. */
export const pendingDeliveries = (state: State): Immutable<Delivery>[] =>
  [...trieValues(state.queuedIds)].flatMap((id) => {
    const delivery = deliveryById(state, id);
    return delivery?.status === 'QUEUED' ? [delivery] : [];
  });

/** Deliveries still to send, oldest first. Scans everything: for start-up only. */
export const queuedDeliveries = (state: State): Immutable<Delivery>[] =>
  [...trieValues(state.deliveries)]
    .filter((delivery) => delivery.status === 'QUEUED')
    .sort((a, b) => a.createdAt.localeCompare(b.createdAt));

/** Names one claim exactly: a renewal or a new attempt gives it a new key. */
export const claimKey = (claim: Claim): string => `${claim.by}#${claim.attempt}#${claim.renewals}`;

/** True when `delivery` is QUEUED and still claimed for the attempt `fence` names. */
export const holdsClaim = (delivery: Immutable<Delivery> | undefined, fence: Fence): boolean =>
  delivery?.status === 'QUEUED' && delivery.claim?.by === fence.by && delivery.claim.attempt === fence.attempt;

/** Events of the users' log that could not be consumed, oldest first. */
export const poisonedEvents = (state: State): readonly Immutable<PoisonedEvent>[] => state.poisoned ?? [];
