import type { GraphQLResponse } from '@apollo/server';
import { silentLogger } from './logs';
import { createMemoryBackend } from '../../lib/log';
import { openStore, type Store } from '../../lib/store';

export interface TempStore<S, E> {
  readonly store: Store<S, E>;
  /** Closes the store. */
  readonly dispose: () => Promise<void>;
}

/** A real store on a fresh in-memory backend: no disk, no fsync. */
export const openTempStore = async <S extends object, E = unknown>(initial: S, logger = silentLogger()): Promise<TempStore<S, E>> => {
  const backend = createMemoryBackend();
  const store = await openStore<S, E>({ backend, stream: 'test', initial, logger });
  return {
    store,
    dispose: async () => {
      await store.close();
      await backend.close();
    },
  };
};

/** The single result of an `executeOperation` response; fails the test on an incremental one. */
export const singleResult = <T extends Record<string, unknown>>(response: GraphQLResponse<T>) => {
  if (response.body.kind !== 'single') throw new Error(`expected a single result, got ${response.body.kind}`);
  return response.body.singleResult;
};
