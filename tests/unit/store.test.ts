import { copyFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createFileBackend, listSegments } from '../../lib/log/file';
import { openStore, type Store } from '../../lib/store';
import { emptyUsersState, signUp, userById, usersAfter, type UsersEvent, type UsersState } from '../../subgraphs/users/src/domain';
import { aSignUp, made } from '../helpers/builders';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';
import { silentLogger } from '../helpers/logs';

let root: string;
const stores: Store<object, unknown>[] = [];

beforeEach(async () => {
  root = await makeTempDir('store-');
});
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  await removeTempDir(root);
});

const openUsers = async (dir = join(root, 'users')) => {
  const store = await openStore<UsersState, UsersEvent>({
    backend: createFileBackend({ dataDir: dirname(dir) }),
    stream: basename(dir),
    initial: emptyUsersState(),
    logger: silentLogger(),
  });
  stores.push(store as Store<object, unknown>);
  return store;
};

const closeStore = async (store: Store<UsersState, UsersEvent>) => {
  stores.splice(stores.indexOf(store as Store<object, unknown>), 1);
  await store.close();
};

/** A copy of the log as it is on disk right now, opened as a second store (the first keeps its lock). */
const openCopyOfLog = async () => {
  const copy = join(root, `copy-${stores.length}`);
  await mkdir(copy);
  for (const { file } of await listSegments(join(root, 'users'))) await copyFile(file, join(copy, basename(file)));
  return openUsers(copy);
};

/** Paths of every object or array in `value` that is not frozen. */
const unfrozen = (value: unknown, path = '$'): string[] => {
  if (typeof value !== 'object' || value === null) return [];
  const own = Object.isFrozen(value) ? [] : [path];
  return own.concat(...Object.entries(value).map(([key, child]) => unfrozen(child, `${path}.${key}`)));
};

describe('openStore', () => {
  it('starts from the initial state, frozen, at version 0', async () => {
    const store = await openUsers();
    expect(store.version).toBe(0);
    expect(store.state).toEqual(emptyUsersState());
    expect(unfrozen(store.state)).toEqual([]);
  });

  it('resolves an execute only once its record is in the log file', async () => {
    const store = await openUsers();
    const { user } = await store.execute(signUp(aSignUp({ email: 'ada@example.com' }), made()));

    const copy = await openCopyOfLog();

    expect(copy.version).toBe(1);
    expect(userById(copy.state, user!.id)).toEqual(user);
  });

  it('shows reads only the durable state while a write is in flight', async () => {
    const store = await openUsers();
    const before = store.state;

    const pending = store.execute(signUp(aSignUp(), made({ id: 'u-1' })));
    expect(store.state).toBe(before);
    expect(store.version).toBe(0);
    expect(userById(store.state, 'u-1')).toBeUndefined();

    await pending;
    expect(store.version).toBe(1);
    expect(userById(store.state, 'u-1')).toBeDefined();
  });

  it('runs concurrent commands each on the state the previous one left', async () => {
    const store = await openUsers();

    const results = await Promise.all([1, 2, 3].map((i) => store.execute(signUp(aSignUp(), made({ id: `u-${i}` })))));

    expect(results.map((r) => r.user?.seq)).toEqual([1, 2, 3]);
    expect(store.version).toBe(3);
    expect(usersAfter(store.state, 0, 10).users.map((u) => u.id)).toEqual(['u-1', 'u-2', 'u-3']);
  });

  it('lets exactly one of two concurrent sign-ups with the same email win', async () => {
    const store = await openUsers();

    const [first, second] = await Promise.all([
      store.execute(signUp({ name: 'Ada', email: 'ada@example.com' }, made({ id: 'u-a' }))),
      store.execute(signUp({ name: 'Ada Too', email: 'ADA@example.com' }, made({ id: 'u-b' }))),
    ]);

    expect(first.errors).toEqual([]);
    expect(second.errors.map((e) => e.code)).toEqual(['EMAIL_TAKEN']);
    expect(store.version).toBe(1);
    expect(store.state.count).toBe(1);
  });

  it('writes nothing for a refused command', async () => {
    const store = await openUsers();
    await store.execute(signUp({ name: 'Ada', email: 'ada@example.com' }, made()));
    const state = store.state;

    await store.execute(signUp({ name: 'Ada', email: 'ada@example.com' }, made()));

    expect(store.version).toBe(1);
    expect(store.state).toBe(state);
    expect((await openCopyOfLog()).version).toBe(1);
  });

  it('writes nothing for a recipe that changes nothing', async () => {
    const store = await openUsers();
    const result = await store.execute(() => ({ recipe: () => undefined, result: 'nothing' }));

    expect(result).toBe('nothing');
    expect(store.version).toBe(0);
  });

  it('rejects a command that throws and keeps working after it', async () => {
    const store = await openUsers();

    await expect(
      store.execute(() => {
        throw new Error('boom');
      }),
    ).rejects.toThrow('boom');
    await expect(
      store.execute(() => ({
        recipe: () => {
          throw new Error('recipe boom');
        },
        result: undefined,
      })),
    ).rejects.toThrow('recipe boom');
    const { errors } = await store.execute(signUp(aSignUp(), made()));

    expect(errors).toEqual([]);
    expect(store.version).toBe(1);
  });

  it('rebuilds the same state, deep-frozen, when reopened', async () => {
    const store = await openUsers();
    for (let i = 0; i < 20; i++) await store.execute(signUp(aSignUp(), made()));
    const state = store.state;
    await closeStore(store);

    const reopened = await openUsers();

    expect(reopened.version).toBe(20);
    expect(reopened.state).toEqual(state);
    expect(unfrozen(reopened.state)).toEqual([]);
  });

  it('goes on from the reopened version', async () => {
    const store = await openUsers();
    await store.execute(signUp(aSignUp(), made()));
    await closeStore(store);

    const reopened = await openUsers();
    const { user } = await reopened.execute(signUp(aSignUp(), made()));

    expect(user?.seq).toBe(2);
    expect(reopened.version).toBe(2);
    expect((await openCopyOfLog()).state.count).toBe(2);
  });
});
