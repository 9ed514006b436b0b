import type { Logger } from 'pino';
import type { Viewer } from '../../../lib/viewer';
import type { Store } from '../../../lib/store';
import type { NotificationsState } from './domain';

/** What every resolver of the notifications subgraph is given. */
export interface Context {
  readonly store: Store<NotificationsState, never>;
  readonly logger: Logger;
  /** The caller, as the gateway verified them; undefined: anonymous. */
  readonly viewer?: Viewer | undefined;
  /** Asks for a queued delivery to be sent now. */
  readonly sendSoon: (deliveryId: string) => void;
}
