import type { Draft, Immutable } from 'immer';

/**
 * A persistent map for Immer state: a fixed 5-level, 16-way trie keyed by a
 * hash of the key, with small buckets at the leaves. An insert touches five
 * 16-entry nodes and one bucket, so its cost under Immer stays flat however
 * many entries the trie holds (a flat object of n entries costs O(n) a write).
 */
export interface HashTrie<V> {
  /** Type only: never present at run time. */
  readonly [valueType]?: V;
  // Inner levels map a hex digit to the next level; the last level maps keys to values.
  readonly [digit: string]: unknown;
}

declare const valueType: unique symbol;

/** Depth of the trie: 16^5 leaves keep buckets near one entry up to about a million keys. */
export const TRIE_LEVELS = 5;

export const emptyTrie = <V>(): HashTrie<V> => ({});

/** FNV-1a over UTF-16 code units; the low 20 bits pick the path. */
const pathOf = (key: string): string[] => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  const path: string[] = [];
  for (let level = 0; level < TRIE_LEVELS; level++) path.push(((hash >>> (level * 4)) & 0xf).toString(16));
  return path;
};

const bucketOf = <V>(trie: HashTrie<V>, key: string): Readonly<Record<string, V>> | undefined => {
  let node: unknown = trie;
  for (const digit of pathOf(key)) {
    node = (node as Record<string, unknown>)[digit];
    if (node === undefined) return undefined;
  }
  return node as Readonly<Record<string, V>>;
};

export const trieGet = <V>(trie: HashTrie<V>, key: string): Immutable<V> | undefined => {
  const bucket = bucketOf(trie, key);
  return bucket && Object.hasOwn(bucket, key) ? (bucket[key] as Immutable<V>) : undefined;
};

export const trieHas = <V>(trie: HashTrie<V>, key: string): boolean => {
  const bucket = bucketOf(trie, key);
  return bucket !== undefined && Object.hasOwn(bucket, key);
};

/** Sets `key` inside a recipe (or on a plain, unfrozen trie being built). */
export const trieSet = <V>(trie: Draft<HashTrie<V>>, key: string, value: V): void => {
  if (key === '__proto__') throw new TypeError('hash-trie: "__proto__" cannot be a key');
  let node = trie as unknown as Record<string, unknown>;
  for (const digit of pathOf(key)) {
    node[digit] ??= {};
    node = node[digit] as Record<string, unknown>;
  }
  node[key] = value;
};

/** Every value, in no particular order. Visits the whole trie: for start-up scans, not requests. */
export function* trieValues<V>(trie: HashTrie<V>): Generator<Immutable<V>> {
  function* walk(node: Record<string, unknown>, level: number): Generator<Immutable<V>> {
    for (const child of Object.values(node)) {
      if (level === TRIE_LEVELS) yield child as Immutable<V>;
      else yield* walk(child as Record<string, unknown>, level + 1);
    }
  }
  yield* walk(trie as Record<string, unknown>, 0);
}
