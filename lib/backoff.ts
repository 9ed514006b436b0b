export interface Backoff {
  /** The delay after the first failure. */
  readonly baseMs: number;
  /** No delay is longer than this. */
  readonly maxMs: number;
}

/** Exponential backoff with equal jitter: half the capped delay, plus up to half again at random. */
export const backoffMs = (attempt: number, { baseMs, maxMs }: Backoff, random = Math.random): number => {
  const capped = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return capped / 2 + random() * (capped / 2);
};
