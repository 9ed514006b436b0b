import { backoffMs } from '../../lib/backoff';
import type { RetryPolicy } from '../../subgraphs/notifications/src/delivery-worker';

const policy: RetryPolicy = { baseMs: 100, maxMs: 5_000, maxAgeMs: 60_000 };
/** The delay before jitter: with `random` at its top, equal jitter gives the full capped delay. */
const ceiling = (attempt: number, retry = policy) => backoffMs(attempt, retry, () => 1);
const floor = (attempt: number, retry = policy) => backoffMs(attempt, retry, () => 0);

describe('backoffMs', () => {
  it('starts at the base delay and doubles with each attempt', () => {
    expect([1, 2, 3, 4, 5].map((attempt) => ceiling(attempt))).toEqual([100, 200, 400, 800, 1_600]);
  });

  it('is capped at maxMs however many attempts there were', () => {
    expect([6, 7, 10, 50, 2_000].map((attempt) => ceiling(attempt))).toEqual([3_200, 5_000, 5_000, 5_000, 5_000]);
  });

  it('waits at least half the capped delay and at most all of it', () => {
    for (const attempt of [1, 3, 8, 30]) {
      const capped = ceiling(attempt);
      expect(floor(attempt)).toBe(capped / 2);
      expect(backoffMs(attempt, policy, () => 0.999_999)).toBeLessThanOrEqual(capped);
      for (let i = 0; i < 200; i++) {
        const delay = backoffMs(attempt, policy);
        expect(delay).toBeGreaterThanOrEqual(capped / 2);
        expect(delay).toBeLessThanOrEqual(capped);
      }
    }
  });

  it('spreads retries by the random draw across the jitter range', () => {
    expect(backoffMs(3, policy, () => 0.5)).toBe(300);
    expect(backoffMs(3, policy, () => 0.25)).toBe(250);
  });

  it('treats attempt 0 like the first attempt', () => {
    expect(ceiling(0)).toBe(100);
  });
});
