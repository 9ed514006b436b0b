import { applyPatches, enablePatches, freeze, produceWithPatches, type Draft, type Immutable } from 'immer';
import { TRIE_LEVELS, trieGet } from '../../lib/hash-trie';
import { createFileBackend } from '../../lib/log/file';
import { openStore, type Store } from '../../lib/store';
import {
  emptyUsersState,
  orderSlot,
  signUp,
  usersAfter,
  userById,
  validateNewUser,
  type UsersEvent,
  type UsersState,
} from '../../subgraphs/users/src/domain';
import { aSignUp, aUsersState, made } from '../helpers/builders';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';
import { silentLogger } from '../helpers/logs';

enablePatches();

type State = Immutable<UsersState>;

/** Runs `signUp` against `state` the way the store does, without a log. */
const signUpDirectly = (state: State, input = aSignUp(), ids = made(), policy: { keyRetentionMs?: number } = {}) => {
  const decision = signUp(input, ids, policy)(state);
  if (!decision.recipe) return { decision, next: state, patches: [] };
  const [next, patches] = produceWithPatches(state, decision.recipe as (draft: Draft<State>) => void);
  return { decision, next, patches };
};

const errorsOf = (input: { name: string; email: string }, state: State = aUsersState()) =>
  signUp(input, made())(state).result.errors;

const codesOf = (input: { name: string; email: string }, state?: State) => errorsOf(input, state).map((e) => [e.code, e.field]);

/** True when the trie node at `depth` (4 = bucket) holds `key` somewhere below. */
const holds = (node: unknown, key: string, depth: number): boolean =>
  depth === TRIE_LEVELS ? Object.hasOwn(node as object, key) : Object.values(node as object).some((child) => holds(child, key, depth + 1));

/** The root, then every trie node and bucket from each index's root down to the user's entry. */
const touchedPath = (state: State, id: string, email: string, seq: number): unknown[] => {
  const path: unknown[] = [state];
  for (const [trie, key] of [
    [state.byId, id],
    [state.idByEmail, email.toLowerCase()],
  ] as const) {
    let node: unknown = trie;
    path.push(node);
    for (let depth = 1; depth <= TRIE_LEVELS; depth++) {
      node = Object.values(node as object).find((child) => holds(child, key, depth));
      path.push(node);
    }
  }
  const [top, middle] = orderSlot(seq);
  path.push(state.order, state.order[top], state.order[top]![middle]);
  return path;
};

const HOUR = 60 * 60 * 1000;
const at = (ms: number) => new Date(Date.parse('2024-05-01T12:00:00.000Z') + ms).toISOString();

/** Sign-ups one after another, each at its own time, as the store would run them. */
const signUpInTurn = (steps: readonly { input: ReturnType<typeof aSignUp>; at: number }[], retentionMs = 24 * HOUR) => {
  let state: State = aUsersState();
  const decisions = steps.map((step) => {
    const { decision, next } = signUpDirectly(state, step.input, made({ createdAt: at(step.at) }), { keyRetentionMs: retentionMs });
    state = next;
    return decision;
  });
  return { state, decisions };
};

describe('signUp with an idempotency key', () => {
  const KEY = 'c7f4a0e2-6d0b-4f7e-9a51-2f0b3c1d9e88';

  it('answers a retry with the same key and input with the first user, and writes nothing', () => {
    const { state, decisions } = signUpInTurn([
      { input: aSignUp({ name: 'Ada', email: 'ada@example.com', idempotencyKey: KEY }), at: 0 },
      { input: aSignUp({ name: ' Ada ', email: 'ada@example.com', idempotencyKey: KEY }), at: HOUR },
    ]);

    expect(decisions[1]!.recipe).toBeUndefined();
    expect(decisions[1]!.result).toEqual({ user: decisions[0]!.result.user, errors: [], replayed: true });
    expect(state.count).toBe(1);
  });

  it('refuses the same key with another name or email, and writes nothing', () => {
    for (const other of [{ name: 'Grace' }, { email: 'grace@example.com' }, { email: 'ADA@example.com' }]) {
      const { state, decisions } = signUpInTurn([
        { input: aSignUp({ name: 'Ada', email: 'ada@example.com', idempotencyKey: KEY }), at: 0 },
        { input: aSignUp({ name: 'Ada', email: 'ada@example.com', idempotencyKey: KEY, ...other }), at: 1000 },
      ]);

      expect(decisions[1]!.recipe).toBeUndefined();
      expect(decisions[1]!.result.errors.map((error) => [error.code, error.field])).toEqual([['IDEMPOTENCY_KEY_REUSED', 'idempotencyKey']]);
      expect(state.count).toBe(1);
    }
  });

  it('keeps the key out of the UserAdded event other services read', () => {
    const { decisions } = signUpInTurn([{ input: aSignUp({ idempotencyKey: KEY }), at: 0 }]);

    expect(decisions[0]!.events).toEqual([{ type: 'UserAdded', user: expect.not.objectContaining({ idempotencyKey: expect.anything() }) }]);
  });

  it.each([
    ['too short', 'k'.repeat(15)],
    ['too long', 'k'.repeat(256)],
    ['a space', `${KEY.slice(0, 20)} ${KEY.slice(21)}`],
    ['non-ASCII', `${KEY}é`],
  ])('refuses a key that is %s, naming the field, with the other problems', (_, idempotencyKey) => {
    const errors = errorsOf({ name: '', email: 'ada@example.com', idempotencyKey } as never);

    expect(errors.map((error) => [error.code, error.field])).toEqual([
      ['INVALID_NAME', 'name'],
      ['INVALID_IDEMPOTENCY_KEY', 'idempotencyKey'],
    ]);
    expect(errors[1]!.message).toMatch(/16 to 255 printable ASCII characters/);
  });

  it('treats a key past its retention as new: the retry meets EMAIL_TAKEN, another sign-up may reuse it', () => {
    const { state, decisions } = signUpInTurn(
      [
        { input: aSignUp({ name: 'Ada', email: 'ada@example.com', idempotencyKey: KEY }), at: 0 },
        { input: aSignUp({ name: 'Ada', email: 'ada@example.com', idempotencyKey: KEY }), at: 2 * HOUR },
        { input: aSignUp({ name: 'Grace', email: 'grace@example.com', idempotencyKey: KEY }), at: 2 * HOUR },
        { input: aSignUp({ name: 'Grace', email: 'grace@example.com', idempotencyKey: KEY }), at: 2 * HOUR + 1 },
      ],
      HOUR,
    );

    expect(decisions[1]!.result.errors.map((error) => error.code)).toEqual(['EMAIL_TAKEN']);
    expect(decisions[2]!.result.user).toMatchObject({ name: 'Grace' });
    expect(decisions[3]!.result).toEqual({ user: decisions[2]!.result.user, errors: [], replayed: true });
    expect(state.count).toBe(2);
  });

  it('drops expired keys from the state as sign-ups go on, a few per sign-up, and no key still retained', () => {
    const keyed = Array.from({ length: 12 }, (_, i) => ({ input: aSignUp({ idempotencyKey: `${KEY}-${i}` }), at: i * 1000 }));
    const later = Array.from({ length: 3 }, (_, i) => ({ input: aSignUp({ idempotencyKey: `${KEY}-late-${i}` }), at: 2 * HOUR + i }));
    const { state } = signUpInTurn([...keyed, ...later], HOUR);

    const stillKept = (seq: number) => userById(state, state.order.flat(2)[seq - 1]!)!.idempotencyKey !== undefined;
    const kept = Array.from({ length: state.count }, (_, i) => stillKept(i + 1));
    // Three sign-ups an hour past the last old one look at 4 users each: the 12 old keys are gone, the 3 new ones stay.
    expect(kept).toEqual([...Array(12).fill(false), true, true, true]);
    expect(state.keysExpiredThrough).toBe(12);
    expect(trieGet(state.idByKey, `${KEY}-0`)).toBeUndefined();
    expect(trieGet(state.idByKey, `${KEY}-late-2`)).toBe(state.order.flat(2)[14]);
  });
});

describe('signUp', () => {
  it('adds the user to every index and bumps the count', () => {
    const before = aUsersState([{}, {}]);
    const { decision, next } = signUpDirectly(before, { name: 'Ada Lovelace', email: 'Ada@Example.com' }, made({ id: 'u-ada' }));

    const user = { id: 'u-ada', name: 'Ada Lovelace', email: 'Ada@Example.com', createdAt: '2024-05-01T12:00:00.000Z', seq: 3 };
    expect(decision.result).toEqual({ user, errors: [], replayed: false });
    expect(decision.events).toEqual([{ type: 'UserAdded', user }]);
    expect(next.count).toBe(3);
    expect(userById(next, 'u-ada')).toEqual(user);
    expect(trieGet(next.idByEmail, 'ada@example.com')).toBe('u-ada');
    expect(next.order.flat(2)[2]).toBe('u-ada');
  });

  it('leaves the input state untouched', () => {
    const before = aUsersState([{ id: 'u-1' }]);
    const snapshot = structuredClone(before);
    const { next } = signUpDirectly(before, { name: 'Bo', email: 'bo@example.com' }, made({ id: 'u-bo' }));

    expect(next).not.toBe(before);
    expect(before).toEqual(snapshot);
    expect(userById(before, 'u-bo')).toBeUndefined();
    expect(before.count).toBe(1);
  });

  it('returns a state frozen along the whole path it wrote', () => {
    const { next } = signUpDirectly(aUsersState([{}]), { name: 'Cy', email: 'cy@example.com' }, made({ id: 'u-cy' }));

    const path = touchedPath(next, 'u-cy', 'cy@example.com', 2);
    expect(path).toHaveLength(1 + 2 * (TRIE_LEVELS + 1) + 3);
    for (const container of path) {
      expect(container).toEqual(expect.any(Object));
      expect(Object.isFrozen(container)).toBe(true);
    }
    expect(Object.isFrozen(userById(next, 'u-cy'))).toBe(true);
  });

  it('emits patches that take the previous state to the next one', () => {
    const before = aUsersState([{}, {}, {}]);
    const { next, patches } = signUpDirectly(before);

    expect(patches).not.toEqual([]);
    expect(applyPatches(before, patches)).toEqual(next);
  });

  it('replays from its patches after a JSON round trip, as the log stores them', () => {
    const before = aUsersState([{}]);
    const { next, patches } = signUpDirectly(before);

    expect(applyPatches(before, JSON.parse(JSON.stringify(patches)))).toEqual(next);
  });

  it('trims the name and the email before storing them', () => {
    const { decision, next } = signUpDirectly(aUsersState(), { name: '  Ada  ', email: '\tada@example.com \n' }, made({ id: 'u-1' }));

    expect(decision.result.user).toMatchObject({ name: 'Ada', email: 'ada@example.com' });
    expect(userById(next, 'u-1')).toMatchObject({ name: 'Ada', email: 'ada@example.com' });
  });

  it('gives each new user the next sign-up position', () => {
    let state = aUsersState();
    for (let i = 1; i <= 3; i++) {
      const { decision, next } = signUpDirectly(state);
      expect(decision.result.user?.seq).toBe(i);
      state = next;
    }
    expect(state.count).toBe(3);
  });

  describe('refusals', () => {
    it('refuses an email without valid syntax', () => {
      for (const email of ['', 'ada', 'ada@', '@example.com', 'ada@example', 'ada example@x.com', 'ada@@example.com']) {
        expect(codesOf({ name: 'Ada', email })).toEqual([['INVALID_EMAIL', 'email']]);
      }
    });

    it('accepts an email of 254 characters and refuses one of 255', () => {
      const domain = `${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(60)}.com`; // 186 characters
      const at254 = `${'a'.repeat(254 - domain.length - 1)}@${domain}`;
      const at255 = `a${at254}`;
      expect(at254).toHaveLength(254);

      expect(validateNewUser({ name: 'Ada', email: at254 }).ok).toBe(true);
      expect(codesOf({ name: 'Ada', email: at255 })).toEqual([['INVALID_EMAIL', 'email']]);
      expect(errorsOf({ name: 'Ada', email: at255 })[0]?.message).toContain('254');
    });

    it('refuses a name that is empty once trimmed', () => {
      for (const name of ['', '   ', '\t\n ']) expect(codesOf({ name, email: 'ada@example.com' })).toEqual([['INVALID_NAME', 'name']]);
    });

    it('counts name length in code points: 100 emoji are accepted, 101 refused', () => {
      expect(validateNewUser({ name: '😀'.repeat(100), email: 'ada@example.com' }).ok).toBe(true);
      expect(codesOf({ name: '😀'.repeat(101), email: 'ada@example.com' })).toEqual([['INVALID_NAME', 'name']]);
      expect(validateNewUser({ name: 'a'.repeat(100), email: 'ada@example.com' }).ok).toBe(true);
      expect(codesOf({ name: 'a'.repeat(101), email: 'ada@example.com' })).toEqual([['INVALID_NAME', 'name']]);
    });

    it.each([
      ['a line break', 'Ada\nLovelace'],
      ['a NUL', 'Ada\u0000'],
      ['a tab', 'Ada\tLovelace'],
      ['a right-to-left override', 'Ada\u202Egpj.exe'],
      ['a bidi isolate', 'Ada\u2066x\u2069'],
    ])('refuses a name containing %s', (_what, name) => {
      expect(codesOf({ name, email: 'ada@example.com' })).toEqual([['INVALID_NAME', 'name']]);
    });

    it('accepts names in any script, with accents and apostrophes', () => {
      for (const name of ["Zoë O'Brien", '李小龍', 'Сергей', 'José-María']) {
        expect(validateNewUser({ name, email: 'ada@example.com' }).ok).toBe(true);
      }
    });

    it('refuses a second sign-up with the same email in other case and with surrounding spaces', () => {
      const state = signUpDirectly(aUsersState(), { name: 'Ada', email: 'ada@example.com' }).next;

      for (const email of ['ada@example.com', 'ADA@Example.COM', '  Ada@example.com  ']) {
        expect(codesOf({ name: 'Other', email }, state)).toEqual([['EMAIL_TAKEN', 'email']]);
      }
    });

    it('reports both a bad name and a bad email at once', () => {
      expect(codesOf({ name: ' ', email: 'nope' })).toEqual([
        ['INVALID_NAME', 'name'],
        ['INVALID_EMAIL', 'email'],
      ]);
    });

    it('gives every error a message that says what is wrong with which field', () => {
      expect(errorsOf({ name: '', email: 'x' }).map((error) => error.message)).toEqual([
        'Name must not be empty.',
        'Email is not a valid address (expected name@domain.tld).',
      ]);
    });

    it('returns no recipe and no events when it refuses', () => {
      const state = signUpDirectly(aUsersState(), { name: 'Ada', email: 'ada@example.com' }).next;
      for (const input of [
        { name: '', email: 'ada2@example.com' },
        { name: 'Ada', email: 'bad' },
        { name: 'Ada', email: 'ADA@example.com' },
      ]) {
        const decision = signUp(input, made())(state);
        expect(decision.recipe).toBeUndefined();
        expect(decision.events ?? []).toEqual([]);
        expect(decision.result.user).toBeNull();
      }
    });
  });
});

describe('signUp through the store', () => {
  let dir: string;
  let store: Store<UsersState, UsersEvent>;

  beforeEach(async () => {
    dir = await makeTempDir('users-domain-');
    store = await openStore<UsersState, UsersEvent>({ backend: createFileBackend({ dataDir: dir }), stream: 'users', initial: emptyUsersState(), logger: silentLogger() });
  });
  afterEach(async () => {
    await store.close();
    await removeTempDir(dir);
  });

  it('stores the user as the next version', async () => {
    const before = store.state;
    const result = await store.execute(signUp({ name: 'Ada', email: 'ada@example.com' }, made({ id: 'u-ada' })));

    expect(result.errors).toEqual([]);
    expect(store.version).toBe(1);
    expect(store.state.count).toBe(1);
    expect(userById(store.state, 'u-ada')).toMatchObject({ name: 'Ada', email: 'ada@example.com', seq: 1 });
    expect(trieGet(store.state.idByEmail, 'ada@example.com')).toBe('u-ada');
    expect(store.state.order).toEqual([[['u-ada']]]);
    expect(before.count).toBe(0);
    expect(Object.isFrozen(store.state)).toBe(true);
  });

  it('writes nothing when it refuses a sign-up', async () => {
    await store.execute(signUp({ name: 'Ada', email: 'ada@example.com' }, made()));
    const state = store.state;

    const results = [
      await store.execute(signUp({ name: 'Ada', email: ' ADA@example.com' }, made())),
      await store.execute(signUp({ name: '', email: 'x@example.com' }, made())),
      await store.execute(signUp({ name: 'Bo', email: 'bo@' }, made())),
    ];

    expect(results.map((r) => r.errors[0]?.code)).toEqual(['EMAIL_TAKEN', 'INVALID_NAME', 'INVALID_EMAIL']);
    expect(store.version).toBe(1);
    expect(store.state).toBe(state);
  });
});

describe('usersAfter', () => {
  const state = aUsersState([{ id: 'a' }, { id: 'b' }, { id: 'c' }, { id: 'd' }, { id: 'e' }]);
  const ids = (page: ReturnType<typeof usersAfter>) => page.users.map((user) => user.id);

  it('pages through users in sign-up order', () => {
    expect(ids(usersAfter(state, 0, 2))).toEqual(['a', 'b']);
    expect(ids(usersAfter(state, 2, 2))).toEqual(['c', 'd']);
    expect(ids(usersAfter(state, 4, 2))).toEqual(['e']);
  });

  it('says whether another page follows', () => {
    expect(usersAfter(state, 0, 2).hasNextPage).toBe(true);
    expect(usersAfter(state, 3, 2).hasNextPage).toBe(false);
    expect(usersAfter(state, 4, 2).hasNextPage).toBe(false);
    expect(usersAfter(state, 0, 5).hasNextPage).toBe(false);
    expect(usersAfter(state, 0, 4).hasNextPage).toBe(true);
  });

  it('returns an empty last page past the end, with the total', () => {
    expect(usersAfter(state, 5, 10)).toEqual({ users: [], hasNextPage: false, totalCount: 5 });
    expect(usersAfter(freeze(emptyUsersState(), true), 0, 10)).toEqual({ users: [], hasNextPage: false, totalCount: 0 });
  });

  it('reports the total count on every page', () => {
    expect(usersAfter(state, 1, 1).totalCount).toBe(5);
  });
});
