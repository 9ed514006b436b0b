import type { ApolloServer } from '@apollo/server';
import { UsersErrorCode } from '../../subgraphs/users/src/errors';
import { MAX_PAGE_SIZE } from '../../subgraphs/users/src/resolvers/Query';
import { createUsersServer } from '../../subgraphs/users/src/server';
import type { Context } from '../../subgraphs/users/src/context';
import { emptyUsersState, type UsersEvent, type UsersState } from '../../subgraphs/users/src/domain';
import { openTempStore, singleResult, type TempStore } from '../helpers/subgraph-context';
import { silentLogger } from '../helpers/logs';

type UserView = {
  id: string;
  name: string;
  email: string;
  createdAt: string;
};
type UserErrorView = {
  code: string;
  field: string | null;
  message: string;
};
type AddUserData = {
  addUser: { user: UserView | null; errors: UserErrorView[] };
};
type UsersData = {
  users: {
    edges: { cursor: string; node: UserView }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
    totalCount: number;
  };
};

const ADD_USER = /* GraphQL */ `
  mutation AddUser($input: AddUserInput!) {
    addUser(input: $input) {
      user { id name email createdAt }
      errors { code field message }
    }
  }
`;
const USER = /* GraphQL */ `
  query User($id: ID!) {
    user(id: $id) { id name email createdAt }
  }
`;
const USERS = /* GraphQL */ `
  query Users($first: Int, $after: String) {
    users(first: $first, after: $after) {
      edges { cursor node { id name email createdAt } }
      pageInfo { hasNextPage endCursor }
      totalCount
    }
  }
`;
const ENTITIES = /* GraphQL */ `
  query Entities($representations: [_Any!]!) {
    _entities(representations: $representations) {
      ... on User { id name email createdAt }
    }
  }
`;

const START = Date.parse('2024-05-01T12:00:00.000Z');

let server: ApolloServer<Context>;
let temp: TempStore<UsersState, UsersEvent>;
let context: Context;

beforeAll(async () => {
  server = createUsersServer();
  await server.start();
});
afterAll(async () => {
  await server.stop();
});

beforeEach(async () => {
  temp = await openTempStore<UsersState, UsersEvent>(emptyUsersState());
  let ids = 0;
  let ticks = 0;
  context = {
    store: temp.store,
    logger: silentLogger(),
    newId: () => `user-${++ids}`,
    now: () => new Date(START + 1000 * ticks++),
    // Most tests read as an operator; "who may read what" below reads as everyone else.
    viewer: { userId: undefined, scopes: new Set(['users:read']) },
  };
});
afterEach(async () => {
  await temp.dispose();
});

/** `as`: the caller, when it is not the operator every other test reads as. */
const run = async <T extends Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}, as: Pick<Context, 'viewer'> = context) =>
  singleResult(await server.executeOperation<T>({ query, variables }, { contextValue: { ...context, viewer: as.viewer } }));

const addUser = async (name: string, email: string, idempotencyKey?: string) => {
  const result = await run<AddUserData>(ADD_USER, { input: { name, email, idempotencyKey } });
  expect(result.errors).toBeUndefined();
  return result.data!.addUser;
};

const signUpAll = async (people: readonly (readonly [string, string])[]) => {
  const users: UserView[] = [];
  for (const [name, email] of people) {
    const { user } = await addUser(name, email);
    users.push(user!);
  }
  return users;
};

describe('addUser', () => {
  it('returns the new user with trimmed name and email, an ISO createdAt and no errors', async () => {
    const payload = await addUser('  Ada Lovelace \t', '  ada@example.com ');

    expect(payload).toEqual({
      user: { id: 'user-1', name: 'Ada Lovelace', email: 'ada@example.com', createdAt: '2024-05-01T12:00:00.000Z' },
      errors: [],
    });
    expect(temp.store.state.count).toBe(1);
  });

  it.each([
    ['INVALID_EMAIL', 'email', { name: 'Ada', email: 'not-an-email' }, /^Email is not a valid address/],
    ['INVALID_NAME', 'name', { name: '   ', email: 'ada@example.com' }, /^Name must not be empty/],
    ['INVALID_NAME', 'name', { name: 'Ada\u202Eecila', email: 'ada@example.com' }, /^Name must not contain control characters/],
  ])('refuses with %s on the %s field and writes nothing', async (code, field, input, message) => {
    const before = temp.store.version;

    const payload = await addUser(input.name, input.email);

    expect(payload.user).toBeNull();
    expect(payload.errors).toEqual([{ code, field, message: expect.stringMatching(message) }]);
    expect(temp.store.state.count).toBe(0);
    expect(temp.store.version).toBe(before);
  });

  it('reports an invalid name and an invalid email together', async () => {
    const payload = await addUser('', 'nope');

    expect(payload.user).toBeNull();
    expect(payload.errors.map(({ code, field }) => ({ code, field }))).toEqual([
      { code: 'INVALID_NAME', field: 'name' },
      { code: 'INVALID_EMAIL', field: 'email' },
    ]);
  });

  it('refuses a second sign-up with the same email in another case with EMAIL_TAKEN', async () => {
    await addUser('Ada', 'ada@example.com');
    const before = temp.store.version;

    const payload = await addUser('Other Ada', '  ADA@Example.COM ');

    expect(payload.user).toBeNull();
    expect(payload.errors).toEqual([{ code: 'EMAIL_TAKEN', field: 'email', message: expect.stringMatching(/exists/) }]);
    expect(temp.store.state.count).toBe(1);
    expect(temp.store.version).toBe(before);
    const { data } = await run<UsersData>(USERS);
    expect(data!.users.totalCount).toBe(1);
  });
});

describe('user', () => {
  it('finds a signed-up user by id', async () => {
    const [ada] = await signUpAll([['Ada', 'ada@example.com']]);

    const result = await run<{ user: UserView | null }>(USER, { id: ada!.id });

    expect(result.errors).toBeUndefined();
    expect(result.data!.user).toEqual(ada);
  });

  it('returns null for an unknown id', async () => {
    const result = await run<{ user: UserView | null }>(USER, { id: 'nobody' });

    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ user: null });
  });
});

describe('users', () => {
  const people = [
    ['Ada', 'ada@example.com'],
    ['Grace', 'grace@example.com'],
    ['Edsger', 'edsger@example.com'],
  ] as const;

  it('returns an empty connection when nobody has signed up', async () => {
    const result = await run<UsersData>(USERS);

    expect(result.data!.users).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 0 });
  });

  it('pages through users in sign-up order with first and after', async () => {
    const signedUp = await signUpAll(people);

    const first = (await run<UsersData>(USERS, { first: 2 })).data!.users;
    expect(first.edges.map((edge) => edge.node)).toEqual(signedUp.slice(0, 2));
    expect(first.pageInfo).toEqual({ hasNextPage: true, endCursor: first.edges[1]!.cursor });
    expect(first.totalCount).toBe(3);

    const second = (await run<UsersData>(USERS, { first: 2, after: first.pageInfo.endCursor })).data!.users;
    expect(second.edges.map((edge) => edge.node)).toEqual(signedUp.slice(2));
    expect(second.pageInfo).toEqual({ hasNextPage: false, endCursor: second.edges[0]!.cursor });
    expect(second.totalCount).toBe(3);

    const past = (await run<UsersData>(USERS, { first: 2, after: second.pageInfo.endCursor })).data!.users;
    expect(past).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null }, totalCount: 3 });
  });

  it('returns 20 users by default', async () => {
    await signUpAll(Array.from({ length: 21 }, (_, i) => [`User ${i}`, `user${i}@example.com`] as const));

    const { users } = (await run<UsersData>(USERS)).data!;

    expect(users.edges).toHaveLength(20);
    expect(users.pageInfo.hasNextPage).toBe(true);
    expect(users.totalCount).toBe(21);
  });

  it('accepts first: 100 and first: 0', async () => {
    await signUpAll(people);

    expect((await run<UsersData>(USERS, { first: 100 })).data!.users.edges).toHaveLength(3);
    const empty = (await run<UsersData>(USERS, { first: 0 })).data!.users;
    expect(empty).toEqual({ edges: [], pageInfo: { hasNextPage: true, endCursor: null }, totalCount: 3 });
  });

  it.each([101, -1])('refuses first: %d with BAD_USER_INPUT naming first', async (first) => {
    const result = await run<UsersData>(USERS, { first });

    expect(result.data).toEqual({ users: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.message).toMatch(/first/);
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'first' });
  });

  it.each([
    ['garbage', 'not-a-cursor'],
    ['a non-numeric position', Buffer.from('user:abc').toString('base64url')],
    ['a negative position', Buffer.from('user:-1').toString('base64url')],
    ['a non-canonical encoding', Buffer.from('user:01').toString('base64url')],
  ])('refuses an after cursor that is %s with BAD_USER_INPUT naming after', async (_, after) => {
    const result = await run<UsersData>(USERS, { after });

    expect(result.data).toEqual({ users: null });
    expect(result.errors).toHaveLength(1);
    expect(result.errors![0]!.message).toMatch(/after/);
    expect(result.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', argumentName: 'after' });
  });
});

describe('federation', () => {
  it('resolves User entities by id and null for unknown ids', async () => {
    const [ada, grace] = await signUpAll([
      ['Ada', 'ada@example.com'],
      ['Grace', 'grace@example.com'],
    ]);

    const result = await run<{ _entities: (UserView | null)[] }>(ENTITIES, {
      representations: [
        { __typename: 'User', id: grace!.id },
        { __typename: 'User', id: 'nobody' },
        { __typename: 'User', id: ada!.id },
      ],
    });

    expect(result.errors).toBeUndefined();
    expect(result.data!._entities).toEqual([grace, null, ada]);
  });

  it('publishes its SDL with the User @key through _service', async () => {
    const result = await run<{ _service: { sdl: string } }>('{ _service { sdl } }');

    expect(result.errors).toBeUndefined();
    expect(result.data!._service.sdl).toMatch(/type User\s+@key\(fields: "id"\)/);
  });
});

describe('a sign-up retried with its idempotency key', () => {
  it('answers the retry with the user the first try made, and makes no second one', async () => {
    const first = await addUser('Ada', 'ada@example.com', 'retry-key-0123456789');
    const retry = await addUser('Ada', 'ada@example.com', 'retry-key-0123456789');
    const withoutKey = await addUser('Ada', 'ada@example.com');

    expect(retry).toEqual(first);
    expect(first.user).toEqual(expect.objectContaining({ id: 'user-1' }));
    expect(withoutKey.errors.map((error) => error.code)).toEqual(['EMAIL_TAKEN']);
    expect((await run<UsersData>(USERS)).data!.users.totalCount).toBe(1);
  });
});

describe('error catalog', () => {
  it('answers with every code of UsersErrorCode but UNAVAILABLE, each for the input it names', async () => {
    await addUser('Ada', 'ada@example.com');
    const refusals = await Promise.all(
      [
        ['Ada', 'not-an-email'],
        ['', 'grace@example.com'],
        ['Another Ada', 'ADA@example.com'],
        ['Grace', 'grace@example.com', 'too-short'],
      ].map(async ([name, email, key]) => (await addUser(name!, email!, key)).errors.map((error) => error.code)),
    );
    await addUser('Grace', 'grace@example.com', 'sign-up-0123456789');
    const reused = (await addUser('Grace Hopper', 'grace@example.com', 'sign-up-0123456789')).errors.map((error) => error.code);
    const badPage = await run(USERS, { first: MAX_PAGE_SIZE + 1 });
    const stranger = await run(USER, { id: 'user-1' }, { viewer: undefined });
    const produced = [...refusals.flat(), ...reused, ...[...(badPage.errors ?? []), ...(stranger.errors ?? [])].map((error) => error.extensions?.code)];
    expect(produced).toEqual([
      UsersErrorCode.INVALID_EMAIL,
      UsersErrorCode.INVALID_NAME,
      UsersErrorCode.EMAIL_TAKEN,
      UsersErrorCode.INVALID_IDEMPOTENCY_KEY,
      UsersErrorCode.IDEMPOTENCY_KEY_REUSED,
      UsersErrorCode.BAD_USER_INPUT,
      UsersErrorCode.FORBIDDEN,
    ]);
    // UNAVAILABLE needs a database that is down: tests/e2e/postgres.test.ts provokes it.
    expect(new Set([...produced, UsersErrorCode.UNAVAILABLE])).toEqual(new Set(Object.values(UsersErrorCode)));
  });
});

describe('who may read what, checked by the users subgraph itself', () => {
  const ada = { userId: 'user-1', scopes: new Set<string>() };
  const grace = { userId: 'user-2', scopes: new Set<string>() };
  const ME = '{ me { id name email } }';

  beforeEach(async () => {
    await signUpAll([
      ['Ada', 'ada@example.com'],
      ['Grace', 'grace@example.com'],
    ]);
  });

  it('shows a user their own address, and nobody else the address of another', async () => {
    expect((await run(USER, { id: 'user-1' }, { viewer: ada })).data).toEqual({ user: expect.objectContaining({ email: 'ada@example.com' }) });
    for (const viewer of [grace, undefined]) {
      const result = await run<{ user: UserView }>(USER, { id: 'user-1' }, { viewer });
      expect(result.data!.user).toEqual({ id: 'user-1', name: 'Ada', email: null, createdAt: expect.any(String) });
      expect(result.errors).toEqual([expect.objectContaining({ path: ['user', 'email'], extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
    }
  });

  it('holds for _entities, the path a gateway takes to a user', async () => {
    const result = await run<{ _entities: UserView[] }>(ENTITIES, { representations: [{ __typename: 'User', id: 'user-1' }] }, { viewer: grace });
    expect(result.data!._entities[0]!.email).toBeNull();
    expect(result.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
  });

  it('lists users only for users:read, and never for a signed-in user without it', async () => {
    for (const viewer of [ada, undefined]) {
      const result = await run(USERS, {}, { viewer });
      expect(result.data).toEqual({ users: null });
      expect(result.errors).toEqual([expect.objectContaining({ extensions: expect.objectContaining({ code: 'FORBIDDEN' }) })]);
    }
    expect((await run<UsersData>(USERS)).data!.users.totalCount).toBe(2);
  });

  it('answers me with the signed-in user, and null for a token that names no user of this system', async () => {
    expect((await run(ME, {}, { viewer: grace })).data).toEqual({ me: { id: 'user-2', name: 'Grace', email: 'grace@example.com' } });
    expect((await run(ME, {}, { viewer: { userId: 'someone-else', scopes: new Set() } })).data).toEqual({ me: null });
    expect((await run(ME, {}, { viewer: { userId: undefined, scopes: new Set(['users:read']) } })).data).toEqual({ me: null });
  });
});
