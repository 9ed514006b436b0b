import type { Logger } from 'pino';
import type { Viewer } from '../../../lib/viewer';
import type { Store } from '../../../lib/store';
import type { UsersEvent, UsersState } from './domain';

/** What every resolver of the users subgraph is given. */
export interface Context {
  readonly store: Store<UsersState, UsersEvent>;
  readonly logger: Logger;
  /** The caller, as the gateway verified them; undefined: anonymous. */
  readonly viewer?: Viewer | undefined;
  /** Id and clock live outside the recipes, so that replaying the log is deterministic. */
  readonly newId: () => string;
  readonly now: () => Date;
  /** How long a sign-up's idempotency key is honoured; unset: a day. */
  readonly keyRetentionMs?: number;
  /** Aborted when the caller (the gateway) hangs up: a sign-up is then not decided again. */
  readonly signal?: AbortSignal | undefined;
  /** Told each sign-up's outcome: `created`, `replayed` (the same key again) or the refusal code (for metrics). */
  readonly onSignUp?: (outcome: string) => void;
}
