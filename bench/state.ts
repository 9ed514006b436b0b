/**
 * What one sign-up costs under Immer as the user count grows: our hash-trie
 * shape against the naive `{ users: User[] }` with `push`. Run: npm run bench:state
 */
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { enablePatches, freeze, produceWithPatches, type Draft } from 'immer';
import { emptyUsersState, type User, type UsersState } from '../subgraphs/users/src/domain';
import { addUser } from '../subgraphs/users/src/domain/recipes';

enablePatches();

interface NaiveState {
  readonly users: readonly User[];
}

const SIZES = [1e3, 1e4, 1e5, 1e6] as const;
const OURS_SAMPLES = 1_000;
/** One naive add copies the whole array: fewer samples where that is slow. */
const naiveSamples = (n: number): number => (n >= 1e6 ? 5 : n >= 1e5 ? 20 : 200);
const WARM_UP = 20;
const CREATED_AT = '2024-05-01T12:00:00.000Z';
const TARGET = { maxMedianMs: 0.25, maxGrowth: 4 };

const makeUser = (seq: number): User => ({
  id: randomUUID(),
  name: `User ${seq}`,
  email: `user${seq}@example.com`,
  createdAt: CREATED_AT,
  seq,
});

const makeUsers = (n: number): User[] => Array.from({ length: n }, (_, i) => makeUser(i + 1));

/** Our shape, built directly on plain objects (as replay does), not by n produce calls. */
const buildOurs = (users: readonly User[]): UsersState => {
  const state = emptyUsersState();
  for (const user of users) addUser(state as Draft<UsersState>, user);
  return state;
};

interface Stats {
  readonly median: number;
  readonly p90: number;
  readonly samples: number;
}

const quantile = (sorted: readonly number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

/** Times `add` once per fresh user; the base state is the same every time. */
const measure = (samples: number, n: number, add: (user: User) => void): Stats => {
  const users = Array.from({ length: samples + WARM_UP }, (_, i) => makeUser(n + 1 + i));
  for (const user of users.slice(0, Math.min(WARM_UP, samples))) add(user);
  const times = users.slice(WARM_UP).map((user) => {
    const start = performance.now();
    add(user);
    return performance.now() - start;
  });
  const sorted = times.sort((a, b) => a - b);
  return { median: quantile(sorted, 0.5), p90: quantile(sorted, 0.9), samples };
};

const timeOnce = (work: () => void): number => {
  const start = performance.now();
  work();
  return performance.now() - start;
};

let peakRss = 0;
const notePeak = (): void => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
};

// Separate functions, so that each 1e6 state is garbage before the next is built.
const firstAddOnUnfrozen = (n: number): number => {
  const state = buildOurs(makeUsers(n));
  const cost = timeOnce(() => produceWithPatches(state, (draft) => addUser(draft, makeUser(n + 1))));
  notePeak();
  return cost;
};

const firstAddOnFrozen = (n: number): { freezeCost: number; firstFrozen: number } => {
  const state = buildOurs(makeUsers(n));
  const freezeCost = timeOnce(() => freeze(state, true));
  const firstFrozen = timeOnce(() => produceWithPatches(state, (draft) => addUser(draft, makeUser(n + 1))));
  notePeak();
  return { freezeCost, firstFrozen };
};

/** Gets both recipes through the JIT before anything is timed, so the 1e3 row is not a cold start. */
const warmUp = (): void => {
  const users = makeUsers(1e3);
  const ourState = freeze(buildOurs(users), true);
  const naiveState = freeze<NaiveState>({ users }, true);
  for (let i = 0; i < 5_000; i++) {
    const user = makeUser(1e3 + 1 + i);
    produceWithPatches(ourState, (draft) => addUser(draft, user));
    if (i % 10 === 0) produceWithPatches(naiveState, (draft) => void draft.users.push(user));
  }
};

const ms = (value: number): string => (value < 1 ? value.toFixed(4) : value < 100 ? value.toFixed(2) : value.toFixed(0));
const pad = (text: string, width: number): string => text.padStart(width);

const main = () => {
  const started = performance.now();
  console.log(`Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} x${cpus().length}`);
  console.log('cost of ONE add via produceWithPatches, in ms (median / p90 over the samples shown)\n');
  const header = ['users', 'ours median', 'ours p90', 'n', 'naive median', 'naive p90', 'n', 'naive/ours'];
  const widths = [9, 12, 10, 5, 13, 11, 4, 11];
  console.log(header.map((h, i) => pad(h, widths[i]!)).join(' '));

  warmUp();
  const ours = new Map<number, Stats>();
  const naive = new Map<number, Stats>();
  for (const n of SIZES) {
    // One size at a time: everything built here is garbage once the row is printed.
    const users = makeUsers(n);
    const ourState = freeze(buildOurs(users), true);
    const o = measure(OURS_SAMPLES, n, (user) => produceWithPatches(ourState, (draft) => addUser(draft, user)));
    const naiveState = freeze<NaiveState>({ users }, true);
    const v = measure(naiveSamples(n), n, (user) => produceWithPatches(naiveState, (draft) => void draft.users.push(user)));
    notePeak();
    ours.set(n, o);
    naive.set(n, v);
    const row = [`1e${Math.log10(n)}`, ms(o.median), ms(o.p90), String(o.samples), ms(v.median), ms(v.p90), String(v.samples), `${(v.median / o.median).toFixed(0)}x`];
    console.log(row.map((cell, i) => pad(cell, widths[i]!)).join(' '));
  }

  const small = ours.get(1e3)!;
  const large = ours.get(1e6)!;
  const growth = large.median / small.median;
  console.log(`\nours, 1e6 vs 1e3: ${growth.toFixed(2)}x   naive/ours at 1e6: ${(naive.get(1e6)!.median / large.median).toFixed(0)}x`);

  // Why the store freezes at load: the first write to an unfrozen tree makes Immer walk and freeze all of it.
  const firstUnfrozen = firstAddOnUnfrozen(1e6);
  const { freezeCost, firstFrozen } = firstAddOnFrozen(1e6);
  console.log('\n1e6 users, the first add:');
  console.log(`  on an unfrozen state          ${pad(ms(firstUnfrozen), 9)} ms`);
  console.log(`  freeze(state, true) at load   ${pad(ms(freezeCost), 9)} ms (once, before serving)`);
  console.log(`  on that frozen state          ${pad(ms(firstFrozen), 9)} ms`);

  const fast = large.median < TARGET.maxMedianMs;
  const flat = growth <= TARGET.maxGrowth;
  console.log(
    `\nverdict: ${fast && flat ? 'PASS' : 'FAIL'}: at 1e6 the median add is ${ms(large.median)} ms ` +
      `(target < ${TARGET.maxMedianMs} ms: ${fast ? 'met' : 'missed'}) and ${growth.toFixed(2)}x its 1e3 cost ` +
      `(target <= ${TARGET.maxGrowth}x: ${flat ? 'met' : 'missed'})`,
  );
  notePeak();
  console.log(`(run took ${((performance.now() - started) / 1000).toFixed(1)} s; peak RSS seen ${(peakRss / 2 ** 20).toFixed(0)} MiB)`);
};

main();
