import { setTimeout as sleep } from 'node:timers/promises';
import { applyPatches, enablePatches, freeze, produceWithPatches, type Draft, type Immutable, type Patch } from 'immer';
import type { Logger } from 'pino';
import { backoffMs, type Backoff } from '../backoff';
import { LogUnavailableError, VersionConflictError, type LogBackend, type LogRecord, type Snapshot } from '../log';
import { inSpan, recordFailure, sampledTraceparent, SpanKind, tracingOff, type Attributes, type Tracer } from '../tracing';

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

export interface ExecuteOptions {
  /**
   * Aborted when the caller stops waiting (it hung up, its deadline passed):
   * the command is then not decided again. An append already sent is never
   * abandoned, since whether it landed matters.
   */
  readonly signal?: AbortSignal | undefined;
  /** What the command's span is called (`<stream> <name>`); default `command`. */
  readonly name?: string;
}

/**
 * A command lost its race with other writers this many times in a row and was
 * given up: nothing of it was written, so the caller may simply try again.
 */
export class ContentionError extends Error {
  override readonly name = 'ContentionError';
}

export interface Store<S, E> {
  /** The newest durable state: what reads see. */
  readonly state: Immutable<S>;
  readonly version: number;
  /**
   * Runs a command against the newest state (including commands still being
   * written), appends its patches and events as the next version, and resolves
   * with its result once that record is durable.
   */
  execute<R>(command: Command<S, E, R>, options?: ExecuteOptions): Promise<R>;
  /** Writes a snapshot of the durable state now (one also runs by itself per `snapshotEvery`). */
  snapshot(): Promise<void>;
  /** Reads what other writers (replicas) have appended so far: afterwards `state` includes it. */
  catchUp(): Promise<void>;
  close(): Promise<void>;
}

/** How a state is written to and read from a snapshot; the default is one JSON document. */
export interface SnapshotCodec<S> {
  /**
   * Chunks of whole lines, each ending in a newline; the state is immutable, so they may be produced
   * across event-loop turns. A backend stores them apart and gives them back as `Snapshot.chunks`.
   */
  encode(state: Immutable<S>): Iterable<string>;
  decode(chunks: readonly string[]): S;
}

export interface SnapshotPolicy {
  /** A snapshot after this many records... */
  readonly records: number;
  /** ...or this many bytes of log, whichever comes first. */
  readonly bytes: number;
}

export interface OpenStoreOptions<S> {
  readonly backend: LogBackend;
  /** The stream this store writes: its service's name. */
  readonly stream: string;
  /** The services that read the stream: the log keeps what they have yet to read. */
  readonly readers?: readonly string[];
  readonly initial: S;
  readonly logger: Logger;
  readonly codec?: SnapshotCodec<S>;
  readonly snapshotEvery?: SnapshotPolicy;
  /**
   * Called once when an append fails for good (disk full, I/O error; not a
   * lost race, not an unreachable database). The store then
   * refuses every command: its newest state is no longer what the log holds,
   * so the process should exit and let a restart replay the log.
   */
  readonly onFailure?: (error: Error) => void;
  /** Told how long each append took to become durable, in seconds (for metrics). */
  readonly onAppend?: (seconds: number) => void;
  /** How often a command that loses races is decided again, and how long it waits between (defaults: `DEFAULT_CONFLICT_POLICY`). */
  readonly conflicts?: ConflictPolicy;
  /**
   * Each command is a span, and its append a child span with `spanAttributes` (which log holds the stream);
   * a sampled command's record carries its `traceparent`, so that readers can link to it.
   */
  readonly tracer?: Tracer;
  readonly spanAttributes?: Attributes;
}

export interface ConflictPolicy {
  /** A command that loses this many races in a row fails with `ContentionError`. */
  readonly limit: number;
  /** From the second lost race on, the command waits this backoff (jittered) before it is decided again. */
  readonly backoff: Backoff;
}

export const DEFAULT_CONFLICT_POLICY: ConflictPolicy = { limit: 10, backoff: { baseMs: 2, maxMs: 200 } };

export const jsonCodec = <S>(): SnapshotCodec<S> => ({
  encode: (state) => [`${JSON.stringify(state)}\n`],
  // One line of JSON: joined, it is subject to V8's string limit; large states want a codec of many lines.
  decode: (chunks) => JSON.parse(chunks.join('')) as S,
});

export const DEFAULT_SNAPSHOT_POLICY: SnapshotPolicy = { records: 10_000, bytes: 64 * 1024 * 1024 };

enablePatches();

/** Replayed patches go into `applyPatches` this many records at a time. */
const REPLAY_BATCH = 1000;


/**
 * Opens the store on `stream` of `backend`: loads the newest snapshot and the
 * records after it, then runs commands as compare-and-appends. A command that
 * loses a race with another writer (a replica) runs again once the store has
 * caught up, as do the commands pipelined behind it, in order.
 */
export const openStore = async <S extends object, E = unknown>({
  backend,
  stream,
  readers = [],
  initial,
  logger,
  onAppend,
  codec = jsonCodec<S>(),
  snapshotEvery = DEFAULT_SNAPSHOT_POLICY,
  conflicts: conflictPolicy = DEFAULT_CONFLICT_POLICY,
  onFailure,
  tracer = tracingOff.tracer,
  spanAttributes = {},
}: OpenStoreOptions<S>): Promise<Store<S, E>> => {
  // Frozen up front: Immer would otherwise deep-freeze the whole tree on the first write.
  let durable = freeze(structuredClone(initial), true) as Immutable<S>;
  let durableVersion = 0;
  const restore = ({ chunks, version }: Snapshot) => {
    durable = freeze(codec.decode(chunks), true) as Immutable<S>;
    durableVersion = version;
  };
  const apply = (records: LogRecord[]) => {
    const fresh = records.filter((record) => record.version > durableVersion);
    if (!fresh.length) return;
    if (fresh[0]!.version !== durableVersion + 1) {
      throw new Error(`${stream}: record ${fresh[0]!.version} follows ${durableVersion}; the stream has a gap`);
    }
    for (let i = 0; i < fresh.length; i += REPLAY_BATCH) {
      const patches: Patch[] = fresh.slice(i, i + REPLAY_BATCH).flatMap((record) => record.patches as Patch[]);
      durable = applyPatches(durable, patches);
    }
    durableVersion = fresh.at(-1)!.version;
  };
  const started = performance.now();
  const log = await backend.openStream(stream, { logger, readers, restore, replay: apply });
  logger.info({ stream, version: log.version, ms: Math.round(performance.now() - started) }, 'state loaded');

  // The state with every decided command applied, durable or not: what the next command is decided on.
  let speculative = durable;
  let speculativeVersion = durableVersion;
  const inFlight = new Set<Promise<void>>();
  // Set when the state may be behind the stream: a lost race, an append of unknown outcome, records followed mid-write.
  let behind = false;
  let syncing: Promise<void> | undefined;
  // The newest version the follower has seen committed: a catch-up reads at least that far.
  let followed = 0;
  let snapshotting: Promise<void> | undefined;
  let failure: Error | undefined;

  /** Reads what other writers appended after the durable version; new commands wait for it. */
  const catchUp = (): Promise<void> =>
    (syncing ??= (async () => {
      await Promise.allSettled([...inFlight]);
      // Records followed while a read ran may have committed after it looked: read again while that gets further.
      for (;;) {
        const before = durableVersion;
        await log.read(durableVersion, apply);
        if (durableVersion >= followed || durableVersion === before) break;
      }
      speculative = durable;
      speculativeVersion = durableVersion;
      behind = false;
    })().finally(() => {
      syncing = undefined;
    }));

  const follower = log.follow(durableVersion, (records) => {
    followed = Math.max(followed, records.at(-1)!.version);
    if (records.at(-1)!.version <= durableVersion) return;
    if (inFlight.size || syncing || behind || records[0]!.version > durableVersion + 1) {
      behind = true;
      void catchUp().catch((error: unknown) => logger.warn({ err: error, stream }, 'catching up with the stream failed; retrying before the next command'));
      return;
    }
    apply(records);
    speculative = durable;
    speculativeVersion = durableVersion;
  });

  const snapshot = () =>
    (snapshotting ??= log
      .snapshot(durableVersion, codec.encode(durable))
      .catch((error: unknown) => logger.error({ err: error, stream }, 'snapshot failed; the log keeps every record'))
      .finally(() => {
        snapshotting = undefined;
      }));

  const fail = (error: Error, version: number) => {
    if (failure) return;
    failure = error;
    logger.fatal({ err: error, stream, version }, 'the log cannot be written: refusing every command from now on');
    onFailure?.(error);
  };

  const execute = async <R>(command: Command<S, E, R>, signal: AbortSignal | undefined): Promise<R> => {
    for (let lost = 0; ; ) {
      if (failure) throw failure;
      signal?.throwIfAborted();
      if (behind || syncing) {
        await (behind ? catchUp() : syncing);
        continue;
      }
      const decision = command(speculative);
      const [next, patches]: readonly [Immutable<S>, Patch[]] = decision.recipe
        ? (produceWithPatches(speculative, decision.recipe as (draft: Draft<Immutable<S>>) => void) as unknown as [Immutable<S>, Patch[]])
        : [speculative, []];
      if (patches.length === 0 && !decision.events?.length) {
        if (speculativeVersion === durableVersion) return decision.result;
        // Decided on a state still being written, which may yet fail: it counts once that state is durable.
        await Promise.allSettled([...inFlight]);
        if (behind || syncing || failure) continue;
        const settled = command(durable);
        if (!settled.recipe) return settled.result;
        continue;
      }
      const version = ++speculativeVersion;
      speculative = next;
      const appendStarted = performance.now();
      const traceparent = sampledTraceparent();
      const appendSpan = tracer.startSpan('log.append', { kind: SpanKind.CLIENT, attributes: { ...spanAttributes, 'log.stream': stream, 'log.version': version } });
      const appending = log.append({ version, patches, events: decision.events ?? [], ...(traceparent ? { trace: traceparent } : {}) });
      inFlight.add(appending);
      try {
        await appending;
      } catch (error) {
        recordFailure(appendSpan, error);
        if (error instanceof VersionConflictError) {
          behind = true;
          lost += 1;
          if (lost >= conflictPolicy.limit) {
            throw new ContentionError(`${stream}: the command lost ${lost} races with other writers in a row; nothing of it was written`);
          }
          if (lost > 1) await sleep(backoffMs(lost - 1, conflictPolicy.backoff));
          continue;
        }
        if (error instanceof LogUnavailableError) {
          behind = true;
          throw error;
        }
        fail(error as Error, version);
        throw error;
      } finally {
        inFlight.delete(appending);
        appendSpan.end();
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
    }
  };

  return {
    get state() {
      return durable;
    },
    get version() {
      return durableVersion;
    },
    execute: (command, { signal, name = 'command' } = {}) =>
      inSpan(tracer, `${stream} ${name}`, { attributes: { 'log.stream': stream } }, () => execute(command, signal)),
    snapshot,
    catchUp: () => {
      behind = true;
      return catchUp();
    },
    async close() {
      await follower.close();
      await snapshotting;
      await Promise.allSettled([...inFlight]);
      await syncing?.catch(() => undefined);
      await log.close();
    },
  };
};

export { trieStateCodec } from './trie-codec';
