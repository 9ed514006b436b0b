import type { Patch } from 'immer';
import type { Logger } from 'pino';

/** One committed command: the patches that take version - 1 to version, and the events it emitted. */
export interface LogRecord<E = unknown> {
  readonly version: number;
  readonly patches: readonly Patch[];
  readonly events: readonly E[];
  /** The W3C `traceparent` of the sampled command that wrote it: readers link their spans to it. */
  readonly trace?: string;
}

/**
 * The newest snapshot of a stream: the state at `version`, as its codec wrote it, in chunks of whole
 * lines (one or several per chunk, as the backend stored them; joined, they are the text written). Never one string: a
 * state's text can pass the largest string V8 makes (~512 MiB).
 */
export interface Snapshot {
  readonly version: number;
  readonly chunks: readonly string[];
}

/**
 * An append lost a race: another writer holds that version. Nothing of the
 * refused append was written; the writer reads what it missed and decides again.
 */
export class VersionConflictError extends Error {
  override readonly name = 'VersionConflictError';
  constructor(
    readonly stream: string,
    readonly version: number,
  ) {
    super(`${stream}: version ${version} was written by another writer`);
  }
}

/**
 * The log could not be reached (database down, timeout). Whether the append
 * landed is unknown: the writer reads the stream again before its next append.
 */
export class LogUnavailableError extends Error {
  override readonly name = 'LogUnavailableError';
}

/**
 * Records a reader needs are gone from the log (pruned before it read them, or
 * removed by hand). The reader stops there rather than skip what it never read.
 */
export class LogGapError extends Error {
  override readonly name = 'LogGapError';
  constructor(
    readonly stream: string,
    /** The reader's cursor: it has consumed everything up to here. */
    readonly after: number,
    /** The oldest record the log still holds past the cursor. */
    readonly first: number,
  ) {
    super(`records ${after + 1} to ${first - 1} of the ${stream} log are gone before this reader read them`);
  }
}

export interface OpenStreamOptions {
  readonly logger: Logger;
  /**
   * The services that read this stream (its subscribers' `consumer` names):
   * nothing a declared reader has not passed is dropped, whether or not it has
   * ever run. Readers that are not declared hold nothing back.
   */
  readonly readers?: readonly string[];
  /** Receives the newest valid snapshot, before any record is replayed. */
  readonly restore?: (snapshot: Snapshot) => void;
  /** Receives the records after the snapshot in order, in batches, before the stream opens. */
  readonly replay: (records: LogRecord[]) => void;
}

/** Stops a follow or a subscription; resolves once no handler runs any more. */
export interface Closable {
  close(): Promise<void>;
}

/** One service's own stream, opened for writing. */
export interface StreamLog {
  /** The newest version this writer knows to be durable: 0 for an empty stream. */
  readonly version: number;
  /**
   * Appends `record` as its version, if no other writer holds it. Appends
   * complete in order; one refused with `VersionConflictError` (or
   * `LogUnavailableError`) fails every append queued behind it, and the stream
   * refuses appends until the writer has caught up with `read`.
   */
  append(record: LogRecord): Promise<void>;
  /** Hands the records after `after` to `onRecords` in order, in batches; resolves with the newest version read. */
  read(after: number, onRecords: (records: LogRecord[]) => void): Promise<number>;
  /**
   * Calls `onRecords` with records after `after` that other writers append.
   * A single-writer backend has nothing to follow.
   */
  follow(after: number, onRecords: (records: LogRecord[]) => void): Closable;
  /** Stores a snapshot of the state at `version` (durable), and drops what nothing needs any more. */
  snapshot(version: number, chunks: Iterable<string>): Promise<void>;
  /** Records and bytes appended since the last snapshot began (or since open). */
  readonly sinceSnapshot: { readonly records: number; readonly bytes: number };
  close(): Promise<void>;
}

export interface SubscribeOptions {
  /** Records up to and including this version are skipped: the consumer's durable cursor. */
  readonly after: number;
  /** Who reads: a backend may keep what this consumer has yet to read. */
  readonly consumer: string;
  /**
   * Called with each batch of new records, in order; the next batch waits for
   * it. A throw hands the batch over again. Once it resolves the records count
   * as consumed (the consumer has stored its cursor).
   */
  readonly onRecords: (records: LogRecord[]) => Promise<void>;
  /**
   * The consumer's durable cursor as it is now, when it can be ahead of what this subscription
   * handed over (another replica of the consumer consumed meanwhile): records missing below it
   * are no gap, and the subscription goes on after it.
   */
  readonly consumed?: () => Promise<number>;
  readonly logger: Logger;
}

/** Reading another service's stream from a durable cursor. */
export interface Subscription extends Closable {
  /** The newest version handed to `onRecords` and completed. */
  readonly version: number;
  /** Set when the stream lacks records after `version`: the subscription reads nothing more. */
  readonly gap: LogGapError | undefined;
}

/** Where the streams live: files under a folder, memory, or a database. */
export interface LogBackend {
  /** Opens the stream `name` for writing: restores its newest snapshot and replays the records after it. */
  openStream(name: string, options: OpenStreamOptions): Promise<StreamLog>;
  /** Follows the stream `name` (another service's) from a cursor. */
  subscribe(name: string, options: SubscribeOptions): Subscription;
  /** The newest version of the stream `name`: 0 when it has none. */
  head(name: string): Promise<number>;
  /** The newest valid snapshot of the stream `name` (another service's, read only), if any. */
  readSnapshot(name: string, logger: Logger): Promise<Snapshot | undefined>;
  close(): Promise<void>;
}
