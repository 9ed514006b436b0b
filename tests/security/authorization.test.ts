import { SignJWT } from 'jose';
import { IDENTITY_HEADER, identitySigner, type RunningService } from '../../lib/service';
import { eventually, gql, SIGN_UP, type GraphQLResponse } from '../helpers/graphql';
import { bodyOf } from '../helpers/http';
import { startTestIssuer, type TestIssuer } from '../helpers/issuer';
import { TEST_SUBGRAPH_SECRET, useSystem } from '../helpers/system';

// The policy of this API, row by row, through a real gateway verifying real tokens from a real
// OpenID Connect issuer (oauth2-mock-server, discovery and JWKS over HTTP), to real subgraphs.

const AUDIENCE = 'https://signup.example.test';

/** Every request the subgraph behind `url` has served, from its own Prometheus metrics. */
const requestsServedBy = async (url: string): Promise<number> => {
  const text = await (await fetch(new URL('/metrics', url))).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith('graphql_requests_total{'))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
};

const codesOf = (response: GraphQLResponse) => (response.errors ?? []).map((error) => [error.path?.join('.') ?? '', error.extensions?.code]);

const UNAUTHORIZED = 'UNAUTHORIZED_FIELD_OR_TYPE';

describe('who may read what, through the gateway', () => {
  let issuer: TestIssuer;
  beforeAll(async () => {
    issuer = await startTestIssuer();
  });
  afterAll(async () => {
    await issuer?.close();
  });
  const fixture = useSystem({
    env: async () => ({ AUTH_ISSUER: issuer.url, AUTH_AUDIENCE: AUDIENCE, AUTH_JWKS_COOLDOWN_MS: '500' }),
  });

  let ada: string;
  let grace: string;
  /** Tokens, by who holds them. */
  const tokens: Record<'ada' | 'grace' | 'reader' | 'writer', string> = { ada: '', grace: '', reader: '', writer: '' };
  const tokenFor = (claims: Record<string, unknown>, options?: Parameters<TestIssuer['token']>[1]) =>
    issuer.token({ aud: AUDIENCE, ...claims }, options);

  const ask = (query: string, variables: Record<string, unknown> = {}, who?: keyof typeof tokens) =>
    gql(fixture.system.gatewayUrl, query, variables, who ? tokens[who] : undefined);

  beforeAll(async () => {
    const signUp = async (name: string, email: string) => (await ask(SIGN_UP, { input: { name, email } })).data.addUser.user.id as string;
    ada = await signUp('Ada', 'ada@example.com');
    grace = await signUp('Grace', 'grace@example.com');
    tokens.ada = await tokenFor({ sub: ada });
    tokens.grace = await tokenFor({ sub: grace });
    tokens.reader = await tokenFor({ sub: 'support-1', scope: 'users:read' });
    tokens.writer = await tokenFor({ sub: 'support-2', scp: ['notifications:write'] });
    await fixture.smtp.waitForMessages(2);
  });

  describe('the policy table', () => {
    const USER = `query($id: ID!) { user(id: $id) { id name createdAt email } }`;

    it('addUser: anyone, anonymous included', async () => {
      const response = await ask(SIGN_UP, { input: { name: 'Alan', email: 'alan@example.com' } });
      expect(response.errors).toBeUndefined();
      expect(response.data.addUser.user.name).toBe('Alan');
    });

    it('me: the signed-in user themselves; anonymous is refused whole', async () => {
      expect((await ask('{ me { id email } }', {}, 'ada')).data).toEqual({ me: { id: ada, email: 'ada@example.com' } });
      const anonymous = await ask('{ me { id email } }');
      expect(anonymous.data).toBeUndefined();
      expect(codesOf(anonymous)).toEqual([['me', UNAUTHORIZED]]);
    });

    it("user(id): id, name and createdAt for anyone; email for its owner and users:read, null for anyone else", async () => {
      const anonymous = await ask(USER, { id: ada });
      expect(anonymous.data.user).toEqual({ id: ada, name: 'Ada', createdAt: expect.any(String), email: null });
      expect(codesOf(anonymous)).toEqual([['user.email', UNAUTHORIZED]]);

      for (const who of ['ada', 'reader'] as const) {
        const allowed = await ask(USER, { id: ada }, who);
        expect(allowed.errors).toBeUndefined();
        expect(allowed.data.user.email).toBe('ada@example.com');
      }
      const other = await ask(USER, { id: ada }, 'grace');
      expect(other.data.user.email).toBeNull();
      expect(codesOf(other)).toEqual([['user.email', 'FORBIDDEN']]);
    });

    it('users: only with users:read; a signed-in user without it and anonymous get UNAUTHORIZED_FIELD_OR_TYPE', async () => {
      const query = '{ users(first: 100) { totalCount edges { node { email } } } }';
      const read = await ask(query, {}, 'reader');
      expect(read.errors).toBeUndefined();
      expect(read.data.users.edges.map((edge: any) => edge.node.email)).toEqual(expect.arrayContaining(['ada@example.com', 'grace@example.com']));
      for (const who of [undefined, 'ada', 'writer'] as const) {
        const refused = await ask(query, {}, who);
        expect(refused.data).toBeUndefined();
        expect(codesOf(refused)).toEqual([['users', UNAUTHORIZED]]);
      }
    });

    it('welcomeEmail and notifications (to, lastError): their own user and users:read only', async () => {
      const query = `query($id: ID!) { user(id: $id) { welcomeEmail { to status lastError } notifications { to } } }`;
      for (const who of ['ada', 'reader'] as const) {
        const allowed = await eventually(
          () => ask(query, { id: ada }, who),
          (response) => response.data?.user?.welcomeEmail?.status === 'SENT',
        );
        expect(allowed.errors).toBeUndefined();
        expect(allowed.data.user).toEqual({ welcomeEmail: { to: 'ada@example.com', status: 'SENT', lastError: null }, notifications: [{ to: 'ada@example.com' }] });
      }
      const other = await ask(query, { id: ada }, 'grace');
      expect(other.data.user).toEqual({ welcomeEmail: null, notifications: null });
      expect(codesOf(other)).toEqual([
        ['user.welcomeEmail', 'FORBIDDEN'],
        ['user.notifications', 'FORBIDDEN'],
      ]);
      const anonymous = await ask(`query($id: ID!) { user(id: $id) { name welcomeEmail { to } notifications { to } } }`, { id: ada });
      expect(anonymous.data.user).toEqual({ name: 'Ada', welcomeEmail: null, notifications: null });
      expect(codesOf(anonymous)).toEqual([
        ['user.welcomeEmail', UNAUTHORIZED],
        ['user.notifications', UNAUTHORIZED],
      ]);
    });

    it('resendWelcomeEmail: for themselves and with notifications:write; nobody else, anonymous refused whole', async () => {
      const resend = `mutation($id: ID!) { resendWelcomeEmail(userId: $id) { errors { code } } }`;
      // The welcome emails were SENT: NOT_FAILED shows the caller got past who-may.
      for (const who of ['ada', 'writer'] as const) {
        expect((await ask(resend, { id: ada }, who)).data.resendWelcomeEmail.errors).toEqual([{ code: 'NOT_FAILED' }]);
      }
      for (const who of ['grace', 'reader'] as const) {
        expect((await ask(resend, { id: ada }, who)).data.resendWelcomeEmail.errors).toEqual([{ code: 'FORBIDDEN' }]);
      }
      const anonymous = await ask(resend, { id: ada });
      expect(anonymous.data).toBeUndefined();
      expect(codesOf(anonymous)).toEqual([['resendWelcomeEmail', UNAUTHORIZED]]);
      expect(fixture.smtp.messages.filter((mail) => JSON.stringify(mail.to).includes('ada@example.com'))).toHaveLength(1);
    });
  });

  describe('operations that mix what the caller may and may not see', () => {
    it('counts through fragments, aliases and inline fragments, and answers the authorized rest', async () => {
      const query = /* GraphQL */ `
        query Mixed($id: ID!) {
          who: user(id: $id) { ...Card }
          again: user(id: $id) { ... on User { mail: email name } }
        }
        fragment Card on User { name address: email ... on User { welcome: welcomeEmail { status } } }
      `;
      const response = await ask(query, { id: grace });
      expect(response.data).toEqual({ who: { name: 'Grace', address: null, welcome: null }, again: { mail: null, name: 'Grace' } });
      expect(codesOf(response)).toEqual([
        ['who.address', UNAUTHORIZED],
        ['who.welcome', UNAUTHORIZED],
        ['again.mail', UNAUTHORIZED],
      ]);
    });

    it('asks no subgraph for what it took out: the notifications subgraph never hears of an anonymous welcomeEmail', async () => {
      const before = await Promise.all([fixture.system.usersUrl, fixture.system.notificationsUrl].map(requestsServedBy));
      const mixed = await ask(`query($id: ID!) { user(id: $id) { name welcomeEmail { status } } }`, { id: ada });
      expect(mixed.data.user).toEqual({ name: 'Ada', welcomeEmail: null });
      const refused = await ask('{ users { totalCount } }');
      expect(refused.data).toBeUndefined();
      const after = await Promise.all([fixture.system.usersUrl, fixture.system.notificationsUrl].map(requestsServedBy));
      // One users request (the name); none for the list, none to notifications.
      expect([after[0]! - before[0]!, after[1]! - before[1]!]).toEqual([1, 0]);
      const signedIn = await ask(`query($id: ID!) { user(id: $id) { name welcomeEmail { status } } }`, { id: ada }, 'ada');
      expect(signedIn.data.user.welcomeEmail).toEqual({ status: 'SENT' });
      expect((await requestsServedBy(fixture.system.notificationsUrl)) - after[1]!).toBe(1);
    });

    it('a scrape without a token, paging users and asking user(id) for every id, finds no address', async () => {
      const ids = (await ask('{ users(first: 100) { edges { node { id } } } }', {}, 'reader')).data.users.edges.map((edge: any) => edge.node.id);
      const bodies = [JSON.stringify(await ask('{ users(first: 100) { edges { node { id email } } pageInfo { endCursor } } }'))];
      for (const id of ids) {
        bodies.push(JSON.stringify(await ask(`query($id: ID!) { user(id: $id) { id name email welcomeEmail { to } notifications { to lastError } } }`, { id })));
      }
      expect(ids.length).toBeGreaterThanOrEqual(2);
      expect(bodies.join('\n')).not.toMatch(/@example\.com/);
    });
  });

  describe('tokens that fail verification', () => {
    const refusedWith = async (authorization: string, check: RegExp, message: RegExp) => {
      const response = await fetch(fixture.system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization },
        body: JSON.stringify({ query: '{ users { totalCount } }' }),
      });
      const body = await bodyOf(response);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/^Bearer error="invalid_token", error_description="/);
      expect(body.data).toBeUndefined();
      expect(body.errors).toEqual([{ message: expect.stringMatching(message), extensions: { code: 'UNAUTHENTICATED', check: expect.stringMatching(check) } }]);
    };

    it('refuses an expired token', async () => {
      await refusedWith(`Bearer ${await tokenFor({ sub: ada }, { expiresIn: -60 })}`, /^exp$/, /expired/);
    });

    it('refuses a token that is not valid yet', async () => {
      await refusedWith(`Bearer ${await tokenFor({ sub: ada, nbf: Math.floor(Date.now() / 1000) + 120 })}`, /^nbf$/, /not valid yet/);
    });

    it('refuses a token without an expiry', async () => {
      await refusedWith(`Bearer ${await tokenFor({ sub: ada, exp: null })}`, /^exp$/, /"exp" claim/);
    });

    it('refuses a token from another issuer', async () => {
      await refusedWith(`Bearer ${await tokenFor({ sub: ada, iss: 'https://elsewhere.example' })}`, /^iss$/, /not issued by/);
    });

    it('refuses a token for another audience', async () => {
      await refusedWith(`Bearer ${await tokenFor({ sub: ada, aud: 'https://other-api.example' })}`, /^aud$/, /not meant for this API/);
    });

    it('refuses a token whose signature does not verify', async () => {
      // Ada's header and signature around claims she was never given.
      const [header, , signature] = tokens.ada.split('.');
      const claims = Buffer.from(JSON.stringify({ sub: ada, aud: AUDIENCE, iss: issuer.url, exp: 9999999999, scope: 'users:read' })).toString('base64url');
      await refusedWith(`Bearer ${header}.${claims}.${signature}`, /^signature$/, /signature does not verify/);
    });

    it('refuses a token signed with a key the issuer does not publish, after fetching its keys again', async () => {
      await refusedWith(`Bearer ${await tokenFor({ sub: ada }, { header: { kid: 'not-a-published-key' } })}`, /^kid$/, /key the issuer does not publish/);
    });

    it('refuses alg none and an HMAC token keyed with anything, whatever its claims', async () => {
      const kid = JSON.parse(Buffer.from(tokens.ada.split('.')[0]!, 'base64url').toString()).kid as string;
      const claims = { sub: ada, aud: AUDIENCE, iss: issuer.url, scope: 'users:read' };
      const hmac = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).setExpirationTime('1h').sign(new TextEncoder().encode(issuer.url));
      await refusedWith(`Bearer ${hmac}`, /^alg$/, /algorithm is not allowed/);
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ ...claims, exp: 9999999999 })).toString('base64url')}.`;
      await refusedWith(`Bearer ${none}`, /^(alg|format)$/, /algorithm is not allowed|not a well-formed/);
    });

    it('refuses what is not a bearer token', async () => {
      await refusedWith(`Basic ${Buffer.from('ada:secret').toString('base64')}`, /^format$/, /Bearer <access token>/);
      await refusedWith('Bearer not.a.jwt', /^format$/, /not a well-formed/);
    });

    it('reads no token from the query string or a cookie: such a caller is anonymous', async () => {
      for (const [url, headers] of [
        [`${fixture.system.gatewayUrl}?access_token=${tokens.reader}`, {}],
        [fixture.system.gatewayUrl, { cookie: `access_token=${tokens.reader}; token=${tokens.reader}` }],
      ] as const) {
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query: '{ users { totalCount } }' }) });
        expect(codesOf(await bodyOf(response))).toEqual([['users', UNAUTHORIZED]]);
      }
    });
  });

  describe('keys', () => {
    it('accepts a new key after the issuer rotates, fetching the JWKS a bounded number of times', async () => {
      const before = await issuer.fetches();
      const kid = await issuer.rotate();
      // Past the cooldown (500 ms here) since the last fetch, so the unknown kid may be fetched.
      await new Promise((resolve) => setTimeout(resolve, 600));
      const rotated = await tokenFor({ sub: ada, scope: 'users:read' });
      expect(JSON.parse(Buffer.from(rotated.split('.')[0]!, 'base64url').toString()).kid).toBe(kid);
      const responses = await Promise.all(Array.from({ length: 20 }, () => gql(fixture.system.gatewayUrl, '{ users { totalCount } }', {}, rotated)));
      expect(responses.every((response) => response.status === 200 && response.data?.users?.totalCount >= 2)).toBe(true);
      // A burst of tokens with unknown keys: at most one more fetch per cooldown, not one per request.
      const unknown = await Promise.all(Array.from({ length: 20 }, (_, i) => tokenFor({ sub: ada }, { header: { kid: `unknown-${i}` } })));
      await Promise.all(unknown.map((token) => gql(fixture.system.gatewayUrl, '{ me { id } }', {}, token)));
      const after = await issuer.fetches();
      expect(after.jwks - before.jwks).toBeGreaterThanOrEqual(1);
      expect(after.jwks - before.jwks).toBeLessThanOrEqual(2);
      expect(after.discovery).toBe(before.discovery);
    });

    it('keeps accepting tokens signed with cached keys while the issuer is down; an unknown key gets 401, not 500', async () => {
      const fresh = await tokenFor({ sub: grace, jti: 'while-down' });
      const stranger = await tokenFor({ sub: grace }, { header: { kid: 'rotated-while-down' } });
      await issuer.stop();
      try {
        await new Promise((resolve) => setTimeout(resolve, 600));
        const cached = await gql(fixture.system.gatewayUrl, '{ me { id } }', {}, fresh);
        expect(cached.data).toEqual({ me: { id: grace } });
        const refused = await gql(fixture.system.gatewayUrl, '{ me { id } }', {}, stranger);
        expect(refused.status).toBe(401);
        expect(refused.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      } finally {
        await issuer.start();
      }
    });
  });

  describe('the subgraphs trust only the gateway', () => {
    const forge = (secret: string) => identitySigner(secret)({ userId: undefined, scopes: new Set(['users:read']) });

    it('does not pass on an identity header a client sends', async () => {
      const response = await fetch(fixture.system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', [IDENTITY_HEADER]: forge(TEST_SUBGRAPH_SECRET) },
        body: JSON.stringify({ query: `query($id: ID!) { user(id: $id) { email } }`, variables: { id: ada } }),
      });
      const body = await bodyOf(response);
      expect(body.data).toBeUndefined();
      expect(codesOf(body)).toEqual([['user.email', UNAUTHORIZED]]);
    });

    it('refuses a direct call whose identity header the gateway did not sign, even with the subgraph secret', async () => {
      for (const identity of [forge('a-guessed-secret-0123456789'), 'e30.AAAA', 'garbage']) {
        const response = await fetch(fixture.system.usersUrl, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-subgraph-secret': TEST_SUBGRAPH_SECRET, [IDENTITY_HEADER]: identity },
          body: JSON.stringify({ query: '{ users { edges { node { email } } } }' }),
        });
        expect(response.status).toBe(401);
        expect(await bodyOf(response)).toEqual({
          errors: [{ message: expect.stringMatching(/trusts only the gateway: x-caller-identity is not signed by the gateway/), extensions: { code: 'UNAUTHENTICATED' } }],
        });
      }
    });

    it('treats a direct call with the secret but no identity as anonymous: the owner checks hold', async () => {
      const response = await fetch(fixture.system.usersUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-subgraph-secret': TEST_SUBGRAPH_SECRET },
        body: JSON.stringify({ query: `query($id: ID!) { user(id: $id) { email } users { totalCount } }`, variables: { id: ada } }),
      });
      const body = await bodyOf(response);
      expect(body.data).toEqual({ user: { email: null }, users: null });
      expect(codesOf(body)).toEqual([
        ['user.email', 'FORBIDDEN'],
        ['users', 'FORBIDDEN'],
      ]);
    });
  });

  describe('a gateway set to refuse, and to read the user from another claim', () => {
    let gateway: RunningService;
    beforeAll(async () => {
      gateway = await fixture.system.startGateway({ AUTH_REJECT_UNAUTHORIZED: true, AUTH_USER_CLAIM: 'signup_user_id' });
    });
    afterAll(() => gateway?.stop());

    it('refuses whole an operation that asks for anything unauthorized, naming every path', async () => {
      const response = await gql(gateway.url, `query($id: ID!) { user(id: $id) { name email welcomeEmail { status } } }`, { id: ada });
      expect(response.data).toBeUndefined();
      expect(codesOf(response)).toEqual([
        ['user.email', UNAUTHORIZED],
        ['user.welcomeEmail', UNAUTHORIZED],
      ]);
      expect((await gql(gateway.url, `query($id: ID!) { user(id: $id) { name } }`, { id: ada })).data).toEqual({ user: { name: 'Ada' } });
    });

    it("takes the user from the configured claim, not from the identity provider's own subject", async () => {
      const token = await tokenFor({ sub: 'idp|12345', signup_user_id: grace });
      expect((await gql(gateway.url, '{ me { id email } }', {}, token)).data).toEqual({ me: { id: grace, email: 'grace@example.com' } });
      const withoutClaim = await tokenFor({ sub: grace });
      expect((await gql(gateway.url, '{ me { id } }', {}, withoutClaim)).data).toEqual({ me: null });
    });
  });
});
