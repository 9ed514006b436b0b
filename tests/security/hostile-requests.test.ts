import { gql, SIGN_UP } from '../helpers/graphql';
import { startSystem, type TestSystem } from '../helpers/system';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

/** One hostile request and what the gateway must answer. */
interface HostileCase {
  readonly name: string;
  /** Appended to the gateway URL (a query string for GET). */
  readonly search?: string;
  readonly init: RequestInit;
  /** `status` and a message in `errors[0]`, or a sign-up refused in the payload with `code`. */
  readonly expect:
    | { readonly status: number; readonly message: RegExp }
    | { readonly refusal: 'INVALID_NAME' | 'INVALID_EMAIL' }
    | { readonly accepted: true };
}

const json = (body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});
const raw = (body: string, contentType: string | undefined, headers: Record<string, string> = {}): RequestInit => ({
  method: 'POST',
  headers: { ...(contentType ? { 'content-type': contentType } : {}), ...headers },
  body,
});
const query = (text: string, variables?: unknown) => json({ query: text, variables });
const signUp = (name: unknown, email: unknown) => json({ query: SIGN_UP, variables: { input: { name, email } } });
const refused = (status: number, message: RegExp) => ({ status, message });

const addUsers = (count: number) =>
  `mutation { ${Array.from({ length: count }, (_, i) => `a${i}: addUser(input: { name: "Bomb ${i}", email: "bomb${i}@example.com" }) { user { id } }`).join(' ')} }`;
const fragmentBomb = (levels: number) =>
  [
    'query { ...F0 }',
    ...Array.from({ length: levels }, (_, i) => `fragment F${i} on Query { ...F${i + 1} ...F${i + 1} }`),
    `fragment F${levels} on Query { users { totalCount } }`,
  ].join('\n');

const CASES: HostileCase[] = [
  // The HTTP envelope
  { name: 'malformed JSON', init: raw('{"query": "{ __typename }"', 'application/json'), expect: refused(400, /not valid JSON/) },
  { name: 'a JSON null body', init: raw('null', 'application/json'), expect: refused(400, /not valid JSON/) },
  { name: 'a JSON string body', init: raw('"{ __typename }"', 'application/json'), expect: refused(400, /not valid JSON/) },
  { name: 'an empty JSON object', init: json({}), expect: refused(400, /POST body missing|non-empty `query`/) },
  { name: 'a text/plain form post (CSRF)', init: raw('{"query":"{ __typename }"}', 'text/plain'), expect: refused(400, /Cross-Site Request Forgery/) },
  { name: 'a urlencoded form post (CSRF)', init: raw('query=%7B__typename%7D', 'application/x-www-form-urlencoded'), expect: refused(400, /Cross-Site Request Forgery/) },
  { name: 'a multipart form post (CSRF)', init: raw('--x\r\n\r\n--x--', 'multipart/form-data; boundary=x'), expect: refused(400, /Cross-Site Request Forgery/) },
  { name: 'no content type at all (CSRF)', init: raw('{"query":"{ __typename }"}', undefined), expect: refused(400, /Cross-Site Request Forgery/) },
  { name: 'an XML body', init: raw('<query>{ __typename }</query>', 'application/xml'), expect: refused(400, /invalid Content-Type/) },
  { name: 'an unsupported charset', init: raw('{"query":"{ __typename }"}', 'application/json; charset=latin1'), expect: refused(415, /unsupported charset/i) },
  { name: 'an unsupported content encoding', init: raw('{"query":"{ __typename }"}', 'application/json', { 'content-encoding': 'compress' }), expect: refused(415, /unsupported content encoding/i) },
  { name: 'a body that claims gzip but is not', init: raw('{"query":"{ __typename }"}', 'application/json', { 'content-encoding': 'gzip' }), expect: refused(400, /Bad request/) },
  { name: 'an oversized body (100 KB)', init: query(`{ __typename } # ${'x'.repeat(100_000)}`), expect: refused(413, /larger than the limit/) },
  { name: 'a batch of operations', init: json([{ query: '{ __typename }' }, { query: '{ __typename }' }]), expect: refused(400, /batching disabled/) },
  {
    name: 'a mutation over GET',
    search: `?query=${encodeURIComponent('mutation { addUser(input: { name: "Get", email: "get@example.com" }) { user { id } } }')}`,
    init: { method: 'GET', headers: { 'apollo-require-preflight': 'true' } },
    expect: refused(405, /GET requests only support query operations/),
  },
  { name: 'a GET query without a preflight header (CSRF)', search: `?query=${encodeURIComponent('{ __typename }')}`, init: { method: 'GET' }, expect: refused(400, /Cross-Site Request Forgery/) },
  { name: 'a PUT', init: { ...query('{ __typename }'), method: 'PUT' }, expect: refused(405, /supports only GET\/POST/) },
  { name: 'a path where nothing is served', search: 'graphql', init: query('{ __typename }'), expect: refused(404, /Nothing is served at POST \/graphql; GraphQL is at \/\./) },
  { name: 'a POST to the health route', search: 'health/live', init: query('{ __typename }'), expect: refused(404, /Nothing is served at POST \/health\/live/) },
  // The operation
  { name: 'a query that is not a string', init: json({ query: 42 }), expect: refused(400, /queries must be strings/) },
  { name: 'variables that are not an object', init: json({ query: '{ __typename }', variables: 'x' }), expect: refused(400, /`variables` .* object/) },
  { name: 'a syntax error', init: query('{ users { '), expect: refused(400, /Syntax Error/) },
  { name: 'an unknown field', init: query('{ usrs { id } }'), expect: refused(400, /Cannot query field "usrs"/) },
  { name: 'an unknown operation name', init: json({ query: 'query A { __typename }', operationName: 'B' }), expect: refused(400, /Unknown operation named "B"/) },
  { name: 'two operations and no operation name', init: query('query A { __typename } query B { __typename }'), expect: refused(400, /Must provide operation name/) },
  { name: 'two anonymous operations', init: query('{ __typename } { __typename }'), expect: refused(400, /anonymous operation must be the only defined operation/) },
  { name: 'deep nesting', init: query('{ users { edges { node { a { b { c { d { e { f } } } } } } } } }'), expect: refused(400, /depth limit of 8 exceeded/) },
  {
    name: 'nested inline fragments',
    init: query(`{ users { edges { node { ${'... on User { '.repeat(50)}id${' }'.repeat(50)} } } } }`),
    expect: refused(400, /Cost limit of 5000 exceeded/),
  },
  { name: 'three thousand nested braces', init: query(`${'{'.repeat(3000)}${'}'.repeat(3000)}`), expect: refused(400, /Syntax Error/) },
  { name: 'a token bomb', init: query(`{${' __typename'.repeat(1200)} }`), expect: refused(400, /more that 1000 tokens/) },
  { name: 'an alias bomb', init: query(`{ ${Array.from({ length: 16 }, (_, i) => `u${i}: users { totalCount }`).join(' ')} }`), expect: refused(400, /Aliases limit of 15 exceeded/) },
  { name: 'an alias bomb of sign-ups', init: query(addUsers(16)), expect: refused(400, /Aliases limit of 15 exceeded/) },
  { name: 'a fragment bomb', init: query(fragmentBomb(30)), expect: refused(400, /limit of \d+ exceeded/) },
  { name: 'a directive bomb', init: query(`{ __typename ${'@include(if: true) '.repeat(30)}}`), expect: refused(400, /Directives limit of 20 exceeded/) },
  {
    name: 'a huge variable list',
    init: query(`query (${Array.from({ length: 300 }, (_, i) => `$v${i}: Int`).join(', ')}) { __typename }`),
    expect: refused(400, /more that 1000 tokens/),
  },
  { name: 'a huge list as a variable', init: json({ query: SIGN_UP, variables: { input: Array(5000).fill('x') } }), expect: refused(400, /Variable "\$input"/) },
  { name: 'a wrong variable type', init: signUp(5, 'num@example.com'), expect: refused(400, /String cannot represent a non string value/) },
  { name: 'a missing variable', init: json({ query: SIGN_UP }), expect: refused(400, /Variable "\$input" of required type "AddUserInput!" was not provided/) },
  { name: 'a null required field', init: signUp(null, 'null@example.com'), expect: refused(400, /"input.name"; Expected non-nullable type "String!" not to be null/) },
  {
    name: 'an unknown input field',
    init: json({ query: SIGN_UP, variables: { input: { name: 'Admin', email: 'admin@example.com', admin: true } } }),
    expect: refused(400, /Field "admin" is not defined by type "AddUserInput"/),
  },
  // Names
  { name: 'a name with CRLF', init: signUp('Eve\r\nBcc: all@example.com', 'crlf@example.com'), expect: { refusal: 'INVALID_NAME' } },
  { name: 'a name with a null byte', init: signUp('Eve\u0000', 'nul@example.com'), expect: { refusal: 'INVALID_NAME' } },
  { name: 'a name with a right-to-left override', init: signUp('Eve\u202Egnp.exe', 'rtl@example.com'), expect: { refusal: 'INVALID_NAME' } },
  { name: 'a name with a tab', init: signUp('Eve\tSmith', 'tab@example.com'), expect: { refusal: 'INVALID_NAME' } },
  { name: 'a name of only spaces', init: signUp('   ', 'blank@example.com'), expect: { refusal: 'INVALID_NAME' } },
  { name: 'a name of 101 characters', init: signUp('x'.repeat(101), 'long@example.com'), expect: { refusal: 'INVALID_NAME' } },
  { name: 'a name of 1 MB', init: signUp('x'.repeat(1024 * 1024), 'mega@example.com'), expect: refused(413, /larger than the limit/) },
  // HTML is a name like any other: stored as text, escaped wherever it is shown (see tests/e2e/sign-up.test.ts).
  { name: 'a name with HTML', init: signUp('<img src=x onerror=alert(1)>', 'html@example.com'), expect: { accepted: true } },
  // Addresses
  { name: 'an address without @', init: signUp('Eve', 'not-an-email'), expect: { refusal: 'INVALID_EMAIL' } },
  { name: 'a quoted local part', init: signUp('Eve', '"john..doe"@example.com'), expect: { refusal: 'INVALID_EMAIL' } },
  { name: 'a display name hiding the address', init: signUp('Eve', 'Bank <victim@example.com>'), expect: { refusal: 'INVALID_EMAIL' } },
  { name: 'two addresses', init: signUp('Eve', 'victim@example.com, eve@example.com'), expect: { refusal: 'INVALID_EMAIL' } },
  { name: 'a header injected into the address', init: signUp('Eve', 'eve@example.com\r\nBcc: all@example.com'), expect: { refusal: 'INVALID_EMAIL' } },
  { name: 'an address with a comment', init: signUp('Eve', 'victim@example.com (eve)'), expect: { refusal: 'INVALID_EMAIL' } },
  { name: 'an IP literal domain', init: signUp('Eve', 'eve@[127.0.0.1]'), expect: { refusal: 'INVALID_EMAIL' } },
  { name: 'a domain without a dot', init: signUp('Eve', 'eve@localhost'), expect: { refusal: 'INVALID_EMAIL' } },
  { name: 'an address of 300 characters', init: signUp('Eve', `${'e'.repeat(290)}@example.com`), expect: { refusal: 'INVALID_EMAIL' } },
  { name: 'an encoded-word address', init: signUp('Eve', '=?utf-8?q?victim?=@example.com'), expect: { refusal: 'INVALID_EMAIL' } },
];

const countUsers = async (url: string, token: string): Promise<number> => (await gql(url, '{ users { totalCount } }', {}, token)).data.users.totalCount;

describe('hostile requests against the gateway', () => {
  let system: TestSystem;
  let dataDir: string;
  let usersBefore: number;

  beforeAll(async () => {
    dataDir = await makeTempDir('signup-e2e-');
    system = await startSystem({ dataDir });
    usersBefore = await countUsers(system.gatewayUrl, system.operatorToken);
  });

  afterAll(async () => {
    await system?.close();
    await removeTempDir(dataDir);
  });

  it('has at least 40 cases', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(40);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('answers %s with a clear refusal (or stores it as plain text), never a 5xx', async (_name, hostile) => {
    const response = await fetch(`${system.gatewayUrl}${hostile.search ?? ''}`, hostile.init);
    const text = await response.text();
    expect(response.status).toBeLessThan(500);
    const body = JSON.parse(text) as { data?: { addUser?: { user: unknown; errors: { code: string; message: string }[] } }; errors?: { message: string }[] };
    if ('status' in hostile.expect) {
      expect({ status: response.status, message: body.errors?.[0]?.message }).toEqual({
        status: hostile.expect.status,
        message: expect.stringMatching(hostile.expect.message),
      });
    } else if ('refusal' in hostile.expect) {
      expect(response.status).toBe(200);
      expect(body.data?.addUser).toEqual({
        user: null,
        errors: [expect.objectContaining({ code: hostile.expect.refusal, message: expect.stringMatching(/\w/) })],
      });
    } else {
      expect(body.errors).toBeUndefined();
      expect(body.data?.addUser?.user).toBeTruthy();
    }
  });

  it('wrote nothing for the refused ones, and still serves', async () => {
    const accepted = CASES.filter((c) => 'accepted' in c.expect).length;
    expect(await countUsers(system.gatewayUrl, system.operatorToken)).toBe(usersBefore + accepted);
    const health = await fetch(new URL('/health/live', system.gatewayUrl));
    expect(health.status).toBe(200);
    const fine = await gql(system.gatewayUrl, SIGN_UP, { input: { name: 'Still Here', email: 'still@example.com' } });
    expect(fine.data.addUser.errors).toEqual([]);
  });
});
