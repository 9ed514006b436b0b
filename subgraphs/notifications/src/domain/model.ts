import { emptyTrie, type HashTrie } from '../../../../lib/hash-trie';
import { trieStateCodec, type SnapshotCodec } from '../../../../lib/store';

/** A user as this subgraph sees it: only the key, resolved by the users subgraph. */
export interface UserRef {
  readonly id: string;
}

export type DeliveryStatus = 'QUEUED' | 'SENT' | 'FAILED';
export type EmailKind = 'WELCOME';

/**
 * "Delivery d claimed by replica r for attempt n": only r may start, hand
 * over or settle attempt n. Another replica may take it over once it has
 * watched this very claim (same `by`, `attempt`, `renewals`) outlive
 * `leaseMs` on its own monotonic clock, so clocks that differ between hosts
 * cannot shorten a lease.
 */
export interface Claim {
  /** The replica id of the claimer. */
  readonly by: string;
  /** The attempt it was taken for (the delivery's `attempts` then): with `by`, the fence every outcome must show. */
  readonly attempt: number;
  /** How long the claim lasts after it is seen, written or renewed. */
  readonly leaseMs: number;
  /** Renewals so far: each one makes the claim new to the replicas watching it. */
  readonly renewals: number;
  /** ISO end of the lease by the claimer's wall clock: for people reading the state, never for deciding. */
  readonly until: string;
}

/** Who may settle an attempt: the replica and the attempt number its claim was taken for. */
export interface Fence {
  readonly by: string;
  readonly attempt: number;
}

/** A users-log event this service could not consume: kept for operators, never dropped silently. */
export interface PoisonedEvent {
  /** The users-log version of the record that carried it. */
  readonly version: number;
  /** Its position among the record's events. */
  readonly index: number;
  readonly reason: string;
  readonly at: string;
}

export interface Delivery {
  readonly id: string;
  readonly userId: string;
  readonly kind: EmailKind;
  readonly to: string;
  readonly toName: string;
  readonly subject: string;
  readonly status: DeliveryStatus;
  /** SMTP conversations started; recorded before each one begins. */
  readonly attempts: number;
  readonly createdAt: string;
  readonly sentAt: string | null;
  /** The Message-ID header, derived from the delivery id so a resend carries the same one. */
  readonly messageId: string;
  readonly lastError: string | null;
  /** Who may send it now; absent when nobody holds it. Cleared once it is SENT or FAILED. */
  readonly claim?: Claim;
  /** The W3C `traceparent` of the sign-up, when its trace was sampled: the delivery's spans link to it. */
  readonly trace?: string;
}

export interface NotificationsState {
  /** The newest users-log version whose events are reflected here. */
  readonly cursor: number;
  readonly deliveries: HashTrie<Delivery>;
  /** User id -> ids of that user's deliveries, oldest first. */
  readonly deliveryIdsByUser: HashTrie<readonly string[]>;
  /**
   * Id -> id of every QUEUED delivery: what replicas scan, so a scan costs what
   * is pending rather than every email ever sent.
   */
  readonly queuedIds: HashTrie<string>;
  /** Events of the users' log that could not be consumed, oldest first. Absent until the first one. */
  readonly poisoned?: readonly PoisonedEvent[];
}

/** Snapshots hold the deliveries and their indexes a thousand entries per line, the rest on the first. */
export const notificationsSnapshotCodec: SnapshotCodec<NotificationsState> = trieStateCodec<NotificationsState>(['deliveries', 'deliveryIdsByUser', 'queuedIds']);

export const emptyNotificationsState = (): NotificationsState => ({
  cursor: 0,
  deliveries: emptyTrie(),
  deliveryIdsByUser: emptyTrie(),
  queuedIds: emptyTrie(),
});

/** The users service's event this service consumes (see subgraphs/users UsersEvent). */
export interface UserAdded {
  readonly type: 'UserAdded';
  readonly user: { readonly id: string; readonly name: string; readonly email: string; readonly createdAt: string };
}
