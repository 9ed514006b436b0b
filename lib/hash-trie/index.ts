import type { Draft, Immutable } from 'immer';

/**
 * A persistent map for Immer state: a fixed 4-level, 16-way trie keyed by a
 * hash of the key, with small buckets at the leaves. An insert touches four
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

/**
 * Depth of the trie: 16^4 buckets hold ~15 keys each at a million keys. A fifth
 * level flattens the add cost further but triples the objects to load and freeze.
 */
export const TRIE_LEVELS = 4;

export const emptyTrie = <V>(): HashTrie<V> => ({});

/** FNV-1a over UTF-16 code units. */
const hashOf = (key: string): number => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash;
};

/** One hex digit per level, from the low bits up: the format logged patches address entries by. */
const pathOf = (key: string): string[] => {
  const hash = hashOf(key);
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
  const path = pathOf(key);
  for (const [level, digit] of path.entries()) {
    // Buckets have no prototype: V8 keeps them as dictionaries instead of making a hidden class per key.
    node[digit] ??= level === path.length - 1 ? Object.create(null) : {};
    node = node[digit] as Record<string, unknown>;
  }
  node[key] = value;
};

/** Removes `key` inside a recipe, and the nodes that leaves empty. */
export const trieDelete = <V>(trie: Draft<HashTrie<V>>, key: string): void => {
  const path: [Record<string, unknown>, string][] = [];
  let node = trie as unknown as Record<string, unknown>;
  for (const digit of pathOf(key)) {
    path.push([node, digit]);
    node = node[digit] as Record<string, unknown>;
    if (node === undefined) return;
  }
  if (!Object.hasOwn(node, key)) return;
  delete node[key];
  // Emptied nodes go too: the trie keeps the shape `buildTrie` gives the same entries (as a snapshot loads them).
  while (path.length) {
    const [parent, digit] = path.pop()!;
    if (Object.keys(parent[digit] as object).length) return;
    delete parent[digit];
  }
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

/** Every key with its value, in no particular order. Visits the whole trie: for snapshots, not requests. */
export function* trieEntries<V>(trie: HashTrie<V>): Generator<[string, Immutable<V>]> {
  function* walk(node: Record<string, unknown>, level: number): Generator<[string, Immutable<V>]> {
    for (const [key, child] of Object.entries(node)) {
      if (level === TRIE_LEVELS) yield [key, child as Immutable<V>];
      else yield* walk(child as Record<string, unknown>, level + 1);
    }
  }
  yield* walk(trie as Record<string, unknown>, 0);
}

/**
 * Builds a deep-frozen trie from many entries at once, bucket by bucket: for
 * loading a snapshot, several times faster than one `trieSet` per entry.
 * Later keys win.
 */
export const buildTrie = <V>(keys: readonly string[], values: readonly V[]): HashTrie<V> => {
  const buckets = 16 ** TRIE_LEVELS;
  const bucketOfKey = new Int32Array(keys.length);
  const starts = new Int32Array(buckets + 1);
  for (let i = 0; i < keys.length; i++) {
    if (keys[i] === '__proto__') throw new TypeError('hash-trie: "__proto__" cannot be a key');
    bucketOfKey[i] = hashOf(keys[i]!) & (buckets - 1);
    starts[bucketOfKey[i]! + 1]!++;
  }
  for (let b = 0; b < buckets; b++) starts[b + 1]! += starts[b]!;
  const sorted = new Int32Array(keys.length);
  const next = starts.slice();
  for (let i = 0; i < keys.length; i++) sorted[next[bucketOfKey[i]!]!++] = i;

  const root: Record<string, unknown> = {};
  const inner: Record<string, unknown>[] = [];
  for (let b = 0; b < buckets; b++) {
    if (starts[b] === starts[b + 1]) continue;
    // Null-prototype buckets start in dictionary mode: V8 makes no hidden class per key.
    const bucket: Record<string, V> = Object.create(null);
    for (let j = starts[b]!; j < starts[b + 1]!; j++) bucket[keys[sorted[j]!]!] = values[sorted[j]!]!;
    let node = root;
    for (let level = 0; level < TRIE_LEVELS - 1; level++) {
      const digit = ((b >>> (level * 4)) & 0xf).toString(16);
      if (!node[digit]) inner.push((node[digit] = {}) as Record<string, unknown>);
      node = node[digit] as Record<string, unknown>;
    }
    node[((b >>> ((TRIE_LEVELS - 1) * 4)) & 0xf).toString(16)] = Object.freeze(bucket);
  }
  for (const node of inner) Object.freeze(node);
  return Object.freeze(root) as HashTrie<V>;
};
