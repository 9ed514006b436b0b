import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GraphQLResponse } from '@apollo/server';
import pino, { type Logger } from 'pino';
import { openStore, type Store } from '../../lib/store';

/** A logger that writes nothing. */
export const silentLogger = (): Logger => pino({ level: 'silent' });

export interface TempStore<S, E> {
  readonly store: Store<S, E>;
  readonly dir: string;
  /** Closes the store and removes its directory. */
  readonly dispose: () => Promise<void>;
}

/** A real store on a fresh temp directory. */
export const openTempStore = async <S extends object, E = unknown>(initial: S, logger = silentLogger()): Promise<TempStore<S, E>> => {
  const dir = await mkdtemp(join(tmpdir(), 'subgraph-test-'));
  const store = await openStore<S, E>({ dir, initial, logger });
  return {
    store,
    dir,
    dispose: async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
};

/** The single result of an `executeOperation` response; fails the test on an incremental one. */
export const singleResult = <T extends Record<string, unknown>>(response: GraphQLResponse<T>) => {
  if (response.body.kind !== 'single') throw new Error(`expected a single result, got ${response.body.kind}`);
  return response.body.singleResult;
};
