import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildSchema, parse, print } from 'graphql';
import { authorizeOperation, nullDenied } from '../../gateway/src/auth/authorize';
import { isSatisfied, secureSupergraph, type Policy } from '../../gateway/src/auth/policy';
import { identityReader, identitySigner } from '../../lib/service/identity';
import { ROOT } from '../helpers/paths';

const schema = buildSchema(/* GraphQL */ `
  type Query { feed: [Post!]!  me: Account  posts: [Post]  search: [Result!]!  nodes: [Node] }
  type Account { id: ID!  handle: String!  email: String!  card: String }
  type Post { id: ID!  title: String!  views: Int  author: Account! }
  interface Node { id: ID! }
  type Secret implements Node { id: ID!  code: String }
  type Public implements Node { id: ID!  name: String }
  union Result = Secret | Public
`);

const policy: Policy = new Map([
  ['Query.me', { authenticated: true, scopes: undefined }],
  ['Account.email', { authenticated: true, scopes: [['read:email']] }],
  ['Account.card', { authenticated: true, scopes: [['billing', 'admin'], ['root']] }],
  ['Post.views', { authenticated: true, scopes: undefined }],
  ['Secret', { authenticated: true, scopes: undefined }],
]);

const anonymous = undefined;
const reader = { userId: 'u1', scopes: new Set(['read:email']) };

const authorize = (query: string, viewer = anonymous as typeof reader | undefined) => authorizeOperation(schema, policy, parse(query), undefined, viewer);

describe('requirements', () => {
  it('ANDs the scopes of an inner list and ORs the lists', () => {
    const card = policy.get('Account.card')!;
    expect(isSatisfied(card, { userId: undefined, scopes: new Set(['billing']) })).toBe(false);
    expect(isSatisfied(card, { userId: undefined, scopes: new Set(['billing', 'admin']) })).toBe(true);
    expect(isSatisfied(card, { userId: undefined, scopes: new Set(['root']) })).toBe(true);
    expect(isSatisfied(card, anonymous)).toBe(false);
    expect(isSatisfied({ authenticated: true, scopes: undefined }, { userId: undefined, scopes: new Set() })).toBe(true);
  });
});

describe('authorizeOperation', () => {
  it('leaves an operation that asks for nothing protected exactly as it was', () => {
    const document = parse('{ feed { id title author { handle } } }');
    const result = authorizeOperation(schema, policy, document, undefined, anonymous);
    expect(result.document).toBe(document);
    expect(result.denied).toEqual([]);
  });

  it('stands a __typename in for each unauthorized field, marks list levels with @, and keeps the rest', () => {
    const result = authorize('{ feed { title views author { handle mail: email } } }');
    expect(print(result.document)).toBe(print(parse('{ feed { title views: __typename author { handle mail: __typename } } }')));
    expect(result.denied).toEqual([
      ['feed', '@', 'views'],
      ['feed', '@', 'author', 'mail'],
    ]);
    expect(result.nothingAuthorized).toBe(false);
  });

  it('lets through what the viewer may see', () => {
    expect(authorize('{ me { email card } }', reader).denied).toEqual([['me', 'card']]);
  });

  it('refuses whole an operation with nothing authorized, counting a field whose every subfield is unauthorized as nothing', () => {
    expect(authorize('{ me { id } }').nothingAuthorized).toBe(true);
    expect(authorize('{ feed { views } }').nothingAuthorized).toBe(true);
    expect(authorize('{ feed { views } posts { id } }').nothingAuthorized).toBe(false);
  });

  it('rewrites fragments once and reports each use at its own path', () => {
    const result = authorize('{ feed { ...P } posts { ...P } } fragment P on Post { id views }');
    expect(result.denied).toEqual([
      ['feed', '@', 'views'],
      ['posts', '@', 'views'],
    ]);
    expect(print(result.document)).toContain('fragment P on Post {\n  id\n  views: __typename\n}');
  });

  it('takes out fragments on a type the viewer may not see, and asks every possible type of an abstract field', () => {
    const result = authorize('{ search { ... on Public { name } ... on Secret { code } } }');
    expect(result.denied).toEqual([['search', '@', '... on Secret']]);
    expect(print(result.document)).not.toContain('Secret');
    expect(authorize('{ search { ... on Node { id } } }').denied).toEqual([['search', '@', '... on Node']]);
    expect(authorize('{ search { __typename } }').denied).toEqual([]);
    // A field of an interface may be answered by an implementation the viewer may not see.
    expect(authorize('{ nodes { id ... on Public { name } } }').denied).toEqual([['nodes', '@', 'id']]);
  });

  it('keeps an operation of several: only the chosen one, and the fragments it still spreads', () => {
    const document = parse('query A { feed { views } posts { id } } query B { me { id } } fragment Unused on Post { id }');
    const result = authorizeOperation(schema, policy, document, 'A', anonymous);
    expect(result.document.definitions).toHaveLength(1);
  });
});

describe('nullDenied', () => {
  it('answers stand-ins with null, and bubbles a null in a non-null field up to the nearest nullable parent', () => {
    const result = authorize('{ posts { title views author { handle email } } feed { id } }');
    const data = {
      posts: [{ title: 'A', views: 'Post', author: { handle: 'ada', email: 'Account' } }, null],
      feed: [{ id: '1' }],
    };
    // Account.email is String!: its null makes author null, and author is Post.author: Post!, so the post is null.
    expect(nullDenied(schema, result, 'query' as never, data)).toEqual({ posts: [null, null], feed: [{ id: '1' }] });
  });

  it('turns the whole data to null when the null reaches a non-null root field', () => {
    const result = authorize('{ feed { title author { email } } posts { id } }');
    expect(nullDenied(schema, result, 'query' as never, { feed: [{ title: 'A', author: { email: 'Account' } }], posts: [] })).toBeNull();
  });

  it('leaves a field skipped by @skip absent, not null', () => {
    const result = authorize('query($no: Boolean = true) { posts { id views @skip(if: $no) } }');
    expect(nullDenied(schema, result, 'query' as never, { posts: [{ id: '1' }] })).toEqual({ posts: [{ id: '1' }] });
  });
});

describe('secureSupergraph', () => {
  const supergraph = readFileSync(join(ROOT, 'gateway', 'supergraph.graphql'), 'utf8');

  it('reads the policy the subgraph schemas declare from the composed supergraph', () => {
    const { policy: read } = secureSupergraph(supergraph);
    expect(Object.fromEntries(read)).toEqual({
      'Query.me': { authenticated: true, scopes: undefined },
      'Query.poisonedUserEvents': { authenticated: true, scopes: [['notifications:write']] },
      'Query.users': { authenticated: true, scopes: [['users:read']] },
      'User.email': { authenticated: true, scopes: undefined },
      'User.welcomeEmail': { authenticated: true, scopes: undefined },
      'User.notifications': { authenticated: true, scopes: undefined },
      'Mutation.resendWelcomeEmail': { authenticated: true, scopes: undefined },
    });
  });

  it('hands the gateway the same supergraph without the security features it refuses', () => {
    const { executable } = secureSupergraph(supergraph);
    expect(supergraph).toMatch(/for: SECURITY/);
    expect(executable).not.toMatch(/for: SECURITY|@authenticated|@requiresScopes|requiresScopes__Scope/);
    expect(executable).toContain('email: String @join__field(graph: USERS)');
  });

  it('follows a link that renames the directives with as:', () => {
    const renamed = supergraph
      .replace('@link(url: "https://specs.apollo.dev/authenticated/v0.1", for: SECURITY)', '@link(url: "https://specs.apollo.dev/authenticated/v0.1", as: "signedIn", for: SECURITY)')
      .replaceAll('@authenticated', '@signedIn');
    const { policy: read, executable } = secureSupergraph(renamed);
    expect(read.get('User.email')).toEqual({ authenticated: true, scopes: undefined });
    expect(executable).not.toContain('signedIn');
  });
});

describe('the identity header', () => {
  const secret = 'identity-test-secret-0123456789';
  const viewer = { userId: 'u1', scopes: new Set(['users:read']) };

  it('reads back what the gateway signed', () => {
    expect(identityReader(secret)(identitySigner(secret)(viewer))).toEqual({ ok: true, viewer });
    expect(identityReader(secret)(undefined)).toEqual({ ok: true, viewer: undefined });
  });

  it('refuses a header signed with another secret, tampered with, expired, or sent where no secret is set', () => {
    const header = identitySigner(secret)(viewer);
    const [payload, signature] = header.split('.');
    const widened = Buffer.from(JSON.stringify({ u: 'u1', s: ['users:read', 'notifications:write'], e: 9999999999 })).toString('base64url');
    expect(identityReader(secret)(identitySigner('another-secret-0123456789')(viewer))).toMatchObject({ ok: false, reason: expect.stringMatching(/not signed/) });
    expect(identityReader(secret)(`${widened}.${signature}`)).toMatchObject({ ok: false });
    expect(identityReader(secret)(`${payload}.${signature}.extra`)).toMatchObject({ ok: false });
    expect(identityReader(secret)(header, Date.now() + 120_000)).toMatchObject({ ok: false, reason: expect.stringMatching(/expired/) });
    expect(identityReader(undefined)(header)).toMatchObject({ ok: false, reason: expect.stringMatching(/SUBGRAPH_SECRET/) });
  });

  it('remembers a verified header only until it expires', () => {
    const read = identityReader(secret);
    const header = identitySigner(secret)(viewer);
    expect(read(header)).toEqual({ ok: true, viewer });
    expect(read(header)).toEqual({ ok: true, viewer });
    expect(read(header, Date.now() + 120_000)).toMatchObject({ ok: false, reason: expect.stringMatching(/expired/) });
  });
});
