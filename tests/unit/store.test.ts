import { copyFile, mkdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createFileBackend, listSegments } from '../../lib/log/file';
import { LogUnavailableError, type LogBackend, type LogRecord, type StreamLog } from '../../lib/log';
import { createMemoryBackend } from '../../lib/log/memory';
import { ContentionError, openStore, type Store } from '../../lib/store';
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

describe('execute against other writers', () => {
  type Users = Store<UsersState, UsersEvent>;
  const KEY = 'a-retried-sign-up-0001';

  /**
   * A memory stream shared by the store under test and a rival writer; `beforeAppend` runs
   * before each append of the store under test reaches the stream (the rival may write first).
   */
  const openRaced = async (beforeAppend: () => Promise<void>) => {
    const memory = createMemoryBackend();
    const open = (backend: LogBackend) =>
      openStore<UsersState, UsersEvent>({ backend, stream: 'users', initial: emptyUsersState(), logger: silentLogger(), conflicts: { limit: 4, backoff: { baseMs: 1, maxMs: 5 } } });
    const rival = await open(memory);
    let appends = 0;
    const store = await open({
      ...memory,
      openStream: async (name, options) => {
        const log = await memory.openStream(name, options);
        return Object.assign(Object.create(log) as StreamLog, {
          append: async (record: LogRecord) => {
            appends += 1;
            await beforeAppend();
            return log.append(record);
          },
        });
      },
    });
    stores.push(rival as Store<object, unknown>, store as Store<object, unknown>);
    return { store, rival, appends: () => appends };
  };

  it('gives a command up after the limit of lost races in a row, having written nothing of it', async () => {
    let rival: Users | undefined;
    const raced = await openRaced(async () => {
      await rival!.execute(signUp(aSignUp(), made()));
    });
    rival = raced.rival;

    await expect(raced.store.execute(signUp(aSignUp({ email: 'loser@example.com' }), made()))).rejects.toThrow(ContentionError);

    expect(raced.appends()).toBe(4);
    await raced.rival.catchUp();
    expect(raced.rival.state.count).toBe(4);
    expect(usersAfter(raced.rival.state, 0, 10).users.map((user) => user.email)).not.toContain('loser@example.com');
  });

  it('decides a command lost to a race again once caught up, and answers it', async () => {
    let rival: Users | undefined;
    let races = 2;
    const raced = await openRaced(async () => {
      if (races-- > 0) await rival!.execute(signUp(aSignUp(), made()));
    });
    rival = raced.rival;

    const { user } = await raced.store.execute(signUp(aSignUp(), made()));

    expect(user?.seq).toBe(3);
    expect(raced.appends()).toBe(3);
  });

  it('does not decide a command again once its caller has gone', async () => {
    const caller = new AbortController();
    let rival: Users | undefined;
    const raced = await openRaced(async () => {
      await rival!.execute(signUp(aSignUp(), made()));
      caller.abort(new Error('the caller hung up'));
    });
    rival = raced.rival;

    await expect(raced.store.execute(signUp(aSignUp(), made()), { signal: caller.signal })).rejects.toThrow('the caller hung up');

    expect(raced.appends()).toBe(1);
  });

  it('answers a retry decided on a sign-up still being written only once that sign-up is durable', async () => {
    let land: () => void = () => undefined;
    const { store } = await openRaced(() => new Promise<void>((resolve) => (land = resolve)));
    const input = aSignUp({ idempotencyKey: KEY });

    const first = store.execute(signUp(input, made({ id: 'u-first' })));
    let retried: Awaited<typeof first> | undefined;
    const retry = store.execute(signUp(input, made({ id: 'u-retry' }))).then((result) => (retried = result));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(retried).toBeUndefined();

    land();

    expect((await first).user?.id).toBe('u-first');
    expect(await retry).toMatchObject({ user: { id: 'u-first' }, replayed: true });
  });

  it('decides a retry again when the sign-up it waited for fails, instead of answering with a user never stored', async () => {
    let fail: (error: Error) => void = () => undefined;
    let appends = 0;
    const { store } = await openRaced(() => (appends++ === 0 ? new Promise<void>((_, reject) => (fail = reject)) : Promise.resolve()));
    const input = aSignUp({ idempotencyKey: KEY });

    const first = store.execute(signUp(input, made({ id: 'u-first' })));
    const retry = store.execute(signUp(input, made({ id: 'u-retry' })));
    await new Promise((resolve) => setTimeout(resolve, 20));
    fail(new LogUnavailableError('the database went away'));

    await expect(first).rejects.toThrow(LogUnavailableError);
    expect(await retry).toMatchObject({ user: { id: 'u-retry' }, replayed: false });
    expect(store.state.count).toBe(1);
  });
});
