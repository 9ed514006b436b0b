import { applyPatches, enablePatches, freeze, produceWithPatches, type Draft, type Immutable, type Patch } from 'immer';
import type { Logger } from 'pino';
import { openFileLog, type LogRecord } from '../log';

/**
 * What a command decides, given the current state: either a refusal (no
 * recipe, nothing is written) or a pure recipe plus the events it emits.
 */
export interface Decision<S, E, R> {
  readonly recipe?: (draft: Draft<S>) => void;
  readonly events?: readonly E[];
  readonly result: R;
}

export type Command<S, E, R> = (state: Immutable<S>) => Decision<S, E, R>;

export interface Store<S, E> {
  /** The newest durable state: what reads see. */
  readonly state: Immutable<S>;
  readonly version: number;
  /**
   * Runs a command against the newest state (including commands still being
   * written), appends its patches and events as the next version, and resolves
   * with its result once that record is durable.
   */
  execute<R>(command: Command<S, E, R>): Promise<R>;
  close(): Promise<void>;
}

export interface OpenStoreOptions<S> {
  readonly dir: string;
  readonly initial: S;
  readonly logger: Logger;
}

enablePatches();

/** Replayed patches go into `applyPatches` this many records at a time. */
const REPLAY_BATCH = 1000;

export const openStore = async <S extends object, E = unknown>({
  dir,
  initial,
  logger,
}: OpenStoreOptions<S>): Promise<Store<S, E>> => {
  // Frozen up front: Immer would otherwise deep-freeze the whole tree on the first write.
  let durable = freeze(structuredClone(initial), true) as Immutable<S>;
  const replay = (records: LogRecord[]) => {
    for (let i = 0; i < records.length; i += REPLAY_BATCH) {
      const patches: Patch[] = records.slice(i, i + REPLAY_BATCH).flatMap((record) => record.patches as Patch[]);
      durable = applyPatches(durable, patches);
    }
  };
  const started = performance.now();
  const log = await openFileLog({ dir, logger, replay });
  logger.info({ dir, version: log.version, ms: Math.round(performance.now() - started) }, 'state loaded');

  let head = durable;
  let headVersion = log.version;
  let durableVersion = log.version;

  return {
    get state() {
      return durable;
    },
    get version() {
      return durableVersion;
    },
    async execute(command) {
      const decision = command(head);
      if (!decision.recipe) return decision.result;
      const [next, patches] = produceWithPatches(head, decision.recipe as (draft: Draft<Immutable<S>>) => void);
      if (patches.length === 0 && !decision.events?.length) return decision.result;
      const version = ++headVersion;
      head = next;
      await log.append({ version, patches, events: decision.events ?? [] });
      // Appends complete in order, so the newest durable state is the one at this version or later.
      if (version > durableVersion) {
        durableVersion = version;
        durable = next;
      }
      return decision.result;
    },
    close: () => log.close(),
  };
};
