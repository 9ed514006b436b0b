import { freeze, type Immutable } from 'immer';
import { buildTrie, trieEntries, type HashTrie } from '../hash-trie';
import type { SnapshotCodec } from './index';

/** Entries per line: lines of a few hundred KiB, many of them for a large state. */
const ENTRIES_PER_LINE = 1_000;

/** The header's key naming the tries whose entries follow it. */
const TRIES = '$tries';

/**
 * A snapshot codec for a state whose bulk is in hash tries (`tries`): a first line with the rest
 * of the state, then each trie's entries, `[trie, [[key, value], …]]`, a thousand per line. No
 * string holds the whole state, and encoding yields between lines.
 */
export const trieStateCodec = <S extends object>(tries: readonly (keyof S & string)[]): SnapshotCodec<S> => ({
  *encode(state: Immutable<S>) {
    const rest: Record<string, unknown> = { ...(state as Record<string, unknown>) };
    const present = tries.filter((name) => rest[name] !== undefined);
    for (const name of present) delete rest[name];
    yield `${JSON.stringify({ ...rest, [TRIES]: present })}\n`;
    for (const name of present) {
      let line: [string, unknown][] = [];
      for (const entry of trieEntries((state as Record<string, HashTrie<unknown>>)[name]!)) {
        line.push(entry);
        if (line.length === ENTRIES_PER_LINE) {
          yield `${JSON.stringify([name, line])}\n`;
          line = [];
        }
      }
      if (line.length) yield `${JSON.stringify([name, line])}\n`;
    }
  },
  decode(chunks) {
    const lines = chunks.flatMap((chunk) => chunk.split('\n')).filter(Boolean);
    const { [TRIES]: present, ...rest } = JSON.parse(lines[0] ?? '{}') as Record<string, unknown> & { [TRIES]?: string[] };
    if (!Array.isArray(present)) throw new Error(`snapshot: the first line names no tries (${TRIES}); it was not written by this codec`);
    const entries = new Map(present.map((name) => [name, { keys: [] as string[], values: [] as unknown[] }]));
    for (const line of lines.slice(1)) {
      const [name, pairs] = JSON.parse(line) as [string, [string, unknown][]];
      const into = entries.get(name);
      if (!into) throw new Error(`snapshot: entries of "${name}", which the header does not name`);
      for (const [key, value] of pairs) {
        into.keys.push(key);
        // buildTrie freezes the trie's nodes, and a deep freeze does not walk into what is frozen already.
        into.values.push(freeze(value, true));
      }
    }
    for (const [name, { keys, values }] of entries) rest[name] = buildTrie(keys, values);
    return rest as S;
  },
});
