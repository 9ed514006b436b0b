import { emptyTrie, type HashTrie } from '../../../../lib/hash-trie';

/** A user as this subgraph sees it: only the key, resolved by the users subgraph. */
export interface UserRef {
  readonly id: string;
}

export type DeliveryStatus = 'QUEUED' | 'SENT' | 'FAILED';
export type EmailKind = 'WELCOME';

/**
 * "Delivery d claimed by replica r until t": only r may start an SMTP attempt
 * before t; after t any replica may take it over.
 */
export interface Claim {
  /** The replica id of the claimer. */
  readonly by: string;
  /** ISO time the lease ends. */
  readonly until: string;
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
}

export interface NotificationsState {
  /** The newest users-log version whose events are reflected here. */
  readonly cursor: number;
  readonly deliveries: HashTrie<Delivery>;
  /** User id -> ids of that user's deliveries, oldest first. */
  readonly deliveryIdsByUser: HashTrie<readonly string[]>;
  /**
   * Id -> id of every QUEUED delivery: what replicas scan, so a scan costs what
   * is pending rather than every email ever sent. Absent from states written
   * before it existed (their queued deliveries are found by the start-up scan).
   */
  readonly queuedIds?: HashTrie<string>;
}

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
