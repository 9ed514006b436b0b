import { createHash, timingSafeEqual } from 'node:crypto';

export const SUBGRAPH_SECRET_HEADER = 'x-subgraph-secret';

const digest = (value: string) => createHash('sha256').update(value).digest();

/** Compares in constant time: hashing first makes the lengths equal, so neither length nor content leaks. */
export const sameSecret = (given: string | undefined, expected: string): boolean =>
  given !== undefined && timingSafeEqual(digest(given), digest(expected));

/** `sameSecret` against one fixed secret, whose digest is computed once instead of per request. */
export const secretChecker = (expected: string): ((given: string | string[] | undefined) => boolean) => {
  const wanted = digest(expected);
  return (given) => typeof given === 'string' && timingSafeEqual(digest(given), wanted);
};
