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
  /** Writes a snapshot of the durable state now (one also runs by itself per `snapshotEvery`). */
  snapshot(): Promise<void>;
  close(): Promise<void>;
}

/** How a state is written to and read from a snapshot; the default is one JSON document. */
export interface SnapshotCodec<S> {
  /** Chunks of the body; the state is immutable, so they may be produced across event-loop turns. */
  encode(state: Immutable<S>): Iterable<string>;
  decode(body: string): S;
}

export interface SnapshotPolicy {
  /** A snapshot after this many records... */
  readonly records: number;
  /** ...or this many bytes of log, whichever comes first. */
  readonly bytes: number;
}

export interface OpenStoreOptions<S> {
  readonly dir: string;
  readonly initial: S;
  readonly logger: Logger;
  readonly codec?: SnapshotCodec<S>;
  readonly snapshotEvery?: SnapshotPolicy;
  /** One fsync per record: only to measure group commit against. */
  readonly syncEachRecord?: boolean;
  /** False: appends are never fsync'd. Benchmarks only: see `LOG_FSYNC` in lib/config.ts. */
  readonly fsync?: boolean;
  /**
   * Called once when an append fails (disk full, I/O error). The store then
   * refuses every command: its newest state is no longer what the log holds,
   * so the process should exit and let a restart replay the log.
   */
  readonly onFailure?: (error: Error) => void;
  /** Told how long each append took to become durable, in seconds (for metrics). */
  readonly onAppend?: (seconds: number) => void;
}

export const jsonCodec = <S>(): SnapshotCodec<S> => ({
  encode: (state) => [JSON.stringify(state)],
  decode: (body) => JSON.parse(body) as S,
});

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = { records: 10_000, bytes: 64 * 1024 * 1024 };

enablePatches();

/** Replayed patches go into `applyPatches` this many records at a time. */
const REPLAY_BATCH = 1000;

export const openStore = async <S extends object, E = unknown>({
  dir,
  initial,
  logger,
  onAppend,
  codec = jsonCodec<S>(),
  snapshotEvery = DEFAULT_SNAPSHOT_POLICY,
  syncEachRecord = false,
  fsync = true,
  onFailure,
}: OpenStoreOptions<S>): Promise<Store<S, E>> => {
  // Frozen up front: Immer would otherwise deep-freeze the whole tree on the first write.
  let durable = freeze(structuredClone(initial), true) as Immutable<S>;
  const restore = ({ body }: { body: string }) => {
    durable = freeze(codec.decode(body), true) as Immutable<S>;
  };
  const replay = (records: LogRecord[]) => {
    for (let i = 0; i < records.length; i += REPLAY_BATCH) {
      const patches: Patch[] = records.slice(i, i + REPLAY_BATCH).flatMap((record) => record.patches as Patch[]);
      durable = applyPatches(durable, patches);
    }
  };
  const started = performance.now();
  const log = await openFileLog({ dir, logger, restore, replay, syncEachRecord, fsync });
  logger.info({ dir, version: log.version, ms: Math.round(performance.now() - started) }, 'state loaded');

  let head = durable;
  let headVersion = log.version;
  let durableVersion = log.version;
  let snapshotting: Promise<void> | undefined;
  let failed = false;

  const snapshot = () =>
    (snapshotting ??= log
      .snapshot(durableVersion, codec.encode(durable))
      .catch((error: unknown) => logger.error({ err: error, dir }, 'snapshot failed; the log keeps every record'))
      .finally(() => {
        snapshotting = undefined;
      }));

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
      const appendStarted = performance.now();
      try {
        await log.append({ version, patches, events: decision.events ?? [] });
      } catch (error) {
        if (!failed) {
          failed = true;
          logger.fatal({ err: error, dir, version }, 'the log cannot be written: refusing every command from now on');
          onFailure?.(error as Error);
        }
        throw error;
      }
      onAppend?.((performance.now() - appendStarted) / 1000);
      // Appends complete in order, so the newest durable state is the one at this version or later.
      if (version > durableVersion) {
        durableVersion = version;
        durable = next;
      }
      const since = log.sinceSnapshot;
      if (since.records >= snapshotEvery.records || since.bytes >= snapshotEvery.bytes) void snapshot();
      return decision.result;
    },
    snapshot,
    async close() {
      await snapshotting;
      await log.close();
    },
  };
};
