import { emptyTrie, type HashTrie } from '../../../../lib/hash-trie';

/** A user as this subgraph sees it: only the key, resolved by the users subgraph. */
export interface UserRef {
  readonly id: string;
}

export type DeliveryStatus = 'QUEUED' | 'SENT' | 'FAILED';
export type EmailKind = 'WELCOME';

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
}

export interface NotificationsState {
  /** The newest users-log version whose events are reflected here. */
  readonly cursor: number;
  readonly deliveries: HashTrie<Delivery>;
  /** User id -> ids of that user's deliveries, oldest first. */
  readonly deliveryIdsByUser: HashTrie<readonly string[]>;
}

export const emptyNotificationsState = (): NotificationsState => ({
  cursor: 0,
  deliveries: emptyTrie(),
  deliveryIdsByUser: emptyTrie(),
});

/** The users service's event this service consumes (see subgraphs/users UsersEvent). */
export interface UserAdded {
  readonly type: 'UserAdded';
  readonly user: { readonly id: string; readonly name: string; readonly email: string; readonly createdAt: string };
}
