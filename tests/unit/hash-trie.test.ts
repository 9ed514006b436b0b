import { applyPatches, enablePatches, freeze, produce, produceWithPatches, type Draft } from 'immer';
import { TRIE_LEVELS, buildTrie, emptyTrie, trieDelete, trieGet, trieHas, trieSet, trieValues, type HashTrie } from '../../lib/hash-trie';

enablePatches();

/** A plain trie built without Immer, frozen like the store's state. */
const trieOf = <V>(entries: Iterable<readonly [string, V]>): HashTrie<V> => {
  const trie = emptyTrie<V>() as Draft<HashTrie<V>>;
  for (const [key, value] of entries) trieSet(trie, key, value);
  return freeze(trie as HashTrie<V>, true);
};

const keys = (n: number, prefix = 'key-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('hash-trie', () => {
  it('gets back what was set, and nothing else', () => {
    const trie = trieOf([
      ['a', 1],
      ['b', 2],
    ]);

    expect(trieGet(trie, 'a')).toBe(1);
    expect(trieGet(trie, 'b')).toBe(2);
    expect(trieGet(trie, 'c')).toBeUndefined();
    expect(trieHas(trie, 'a')).toBe(true);
    expect(trieHas(trie, 'c')).toBe(false);
  });

  it('deletes a key in a recipe, leaving the others and the input untouched, and replays the deletion from its patches', () => {
    const trie = trieOf(keys(100).map((key, i) => [key, i] as const));

    const [next, patches] = produceWithPatches(trie, (draft) => {
      trieDelete(draft, 'key-7');
      trieDelete(draft, 'never-set');
    });

    expect(trieHas(next, 'key-7')).toBe(false);
    expect([...trieValues(next)]).toHaveLength(99);
    expect(trieGet(next, 'key-8')).toBe(8);
    expect(trieHas(trie, 'key-7')).toBe(true);
    expect(applyPatches(trie, patches)).toEqual(next);
  });

  it('leaves no emptied node behind: the trie is the one buildTrie makes of the keys left, as a snapshot loads it', () => {
    const entries = keys(300).map((key, i) => [key, i] as const);
    const next = produce(trieOf(entries), (draft) => {
      for (const [key] of entries.slice(0, 200)) trieDelete(draft, key);
    });
    const left = entries.slice(200);

    expect(next).toEqual(buildTrie(left.map(([key]) => key), left.map(([, value]) => value)));
    expect(produce(next, (draft) => left.forEach(([key]) => trieDelete(draft, key)))).toEqual(emptyTrie());
  });

  it('tells a key set to a falsy value from a missing one', () => {
    const trie = trieOf<number | null>([
      ['zero', 0],
      ['null', null],
    ]);

    expect(trieHas(trie, 'zero')).toBe(true);
    expect(trieGet(trie, 'zero')).toBe(0);
    expect(trieHas(trie, 'null')).toBe(true);
  });

  it('replaces the value of a key set twice', () => {
    const trie = trieOf([
      ['a', 1],
      ['a', 2],
    ]);

    expect(trieGet(trie, 'a')).toBe(2);
    expect([...trieValues(trie)]).toEqual([2]);
  });

  it('finds nothing under Object.prototype names it was not given, even in a bucket holding other keys', () => {
    const names = ['constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf'];
    // For each name, another key in the same bucket, so the lookup reaches a real bucket.
    const wanted = new Map(names.map((name) => [persistedPath(name).join(), name]));
    const found = new Map<string, string>();
    for (let i = 0; found.size < wanted.size; i++) {
      const path = persistedPath(`k${i}`).join();
      if (wanted.has(path) && !found.has(path)) found.set(path, `k${i}`);
    }
    const neighbours = [...found.values()];
    const trie = trieOf(neighbours.map((key) => [key, 1] as const));

    for (const name of names) {
      expect(trieGet(trie, name)).toBeUndefined();
      expect(trieHas(trie, name)).toBe(false);
    }
    for (const key of neighbours) expect(trieGet(trie, key)).toBe(1);
  });

  it('keeps the path of every key stable, since logged patches address entries by it', () => {
    for (const key of ['', 'a', 'user-1', 'ada@example.com', '123456', '😀', ...keys(200)]) {
      expect(digitsOf(key)).toEqual(persistedPath(key));
    }
  });

  it('stores Object.prototype names other than __proto__ as ordinary keys', () => {
    const trie = trieOf([
      ['constructor', 'c'],
      ['toString', 't'],
    ]);
    expect(trieGet(trie, 'constructor')).toBe('c');
    expect(trieGet(trie, 'toString')).toBe('t');
  });

  it('treats keys that look like hex digits or are empty like any other key', () => {
    const entries = ['', '0', 'a', 'f', '10', 'ff'].map((key, i) => [key, i] as const);
    const trie = trieOf(entries);
    for (const [key, value] of entries) expect(trieGet(trie, key)).toBe(value);
    expect([...trieValues(trie)].sort()).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('refuses "__proto__" as a key', () => {
    const trie = emptyTrie<number>() as Draft<HashTrie<number>>;
    expect(() => trieSet(trie, '__proto__', 1)).toThrow(/__proto__/);
    expect([...trieValues(trie as HashTrie<number>)]).toEqual([]);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
  });

  it('keeps 50,000 keys all retrievable, colliding buckets included', () => {
    const all = keys(50_000);
    const trie = trieOf(all.map((key, i) => [key, i] as const));

    const missing = all.filter((key, i) => trieGet(trie, key) !== i);
    expect(missing).toEqual([]);
    expect(trieHas(trie, 'key-50000')).toBe(false);
  });

  it('iterates every value exactly once', () => {
    const all = keys(5_000);
    const trie = trieOf(all.map((key) => [key, key] as const));

    const values = [...trieValues(trie)];
    expect(values).toHaveLength(all.length);
    expect(new Set(values)).toEqual(new Set(all));
  });

  it('iterates nothing in an empty trie', () => {
    expect([...trieValues(emptyTrie())]).toEqual([]);
  });

  it('sets inside a recipe without touching the base', () => {
    const base = trieOf([['a', 1]]);
    const next = produce(base, (draft) => trieSet(draft, 'b', 2));

    expect(trieGet(next, 'b')).toBe(2);
    expect(trieGet(next, 'a')).toBe(1);
    expect(trieHas(base, 'b')).toBe(false);
    expect(Object.isFrozen(next)).toBe(true);
  });

  it('copies only the path to the key it sets: every other subtree is shared', () => {
    const base = trieOf(keys(20_000).map((key) => [key, { key }] as const));
    // A new key whose bucket already holds others, so the bucket copy is checked too.
    const key = keys(1_000, 'new-').find((candidate) => bucketAt(base, digitsOf(candidate)) !== undefined)!;
    const next = produce(base, (draft) => trieSet(draft, key, { key }));

    let before = base as Node;
    let after = next as Node;
    for (const digit of digitsOf(key)) {
      expect(after).not.toBe(before);
      expect(Object.keys(after)).toEqual(Object.keys(before));
      for (const sibling of Object.keys(before)) {
        if (sibling !== digit) expect(after[sibling]).toBe(before[sibling]);
      }
      before = before[digit] as Node;
      after = after[digit] as Node;
    }
    expect(Object.keys(after)).toEqual([...Object.keys(before), key]);
    for (const old of Object.keys(before)) expect(after[old]).toBe(before[old]);
  });

  it('emits patches that rebuild the same trie when replayed', () => {
    const base = trieOf(keys(1_000).map((key) => [key, 0] as const));
    const [next, patches] = produceWithPatches(base, (draft) => trieSet(draft, 'new-key', 1));

    expect(patches).toHaveLength(1);
    expect(patches[0]!.path.length).toBeLessThanOrEqual(TRIE_LEVELS + 1);
    expect(applyPatches(base, JSON.parse(JSON.stringify(patches)))).toEqual(next);
  });
});

type Node = Record<string, unknown>;

/** The hex digits that lead to `key`'s bucket, read off a trie holding only that key. */
const digitsOf = (key: string): string[] => {
  const digits: string[] = [];
  let node = trieOf([[key, true]]) as Node;
  for (let depth = 0; depth < TRIE_LEVELS; depth++) {
    const [digit] = Object.keys(node);
    digits.push(digit!);
    node = node[digit!] as Node;
  }
  return digits;
};

/**
 * The path format existing logs were written with: FNV-1a over UTF-16 code
 * units, one hex digit per level from the low bits up. Changing it would make
 * replayed patches put entries where lookups no longer find them.
 */
const persistedPath = (key: string): string[] => {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) hash = Math.imul(hash ^ key.charCodeAt(i), 0x01000193);
  return Array.from({ length: TRIE_LEVELS }, (_, level) => level).map((level) => ((hash >>> (level * 4)) & 0xf).toString(16));
};

const bucketAt = (trie: HashTrie<unknown>, digits: readonly string[]): Node | undefined =>
  digits.reduce<Node | undefined>((node, digit) => node?.[digit] as Node | undefined, trie as Node);
