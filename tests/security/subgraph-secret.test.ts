import type { RunningService } from '../../lib/service';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { operatorHeaders, startSystem, type TestSystem } from '../helpers/system';
import { bodyOf } from '../helpers/http';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

const SECRET = 'shared-secret-for-tests-0123456789';

const post = (url: string, query: string, variables: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ query, variables }) });

const ENTITIES = /* GraphQL */ `
  query ($representations: [_Any!]!) {
    _entities(representations: $representations) { ... on User { id welcomeEmail { status } } }
  }
`;

describe('subgraphs answer only the gateway', () => {
  let system: TestSystem;
  let dataDir: string;
  let userId: string;

  beforeAll(async () => {
    dataDir = await makeTempDir('signup-e2e-');
    system = await startSystem({ dataDir, env: { SUBGRAPH_SECRET: SECRET } });
    const signUp = await gql(system.gatewayUrl, SIGN_UP, { input: { name: 'Ada', email: 'ada@example.com' } });
    userId = signUp.data.addUser.user.id;
  });

  afterAll(async () => {
    await system?.close();
    await removeTempDir(dataDir);
  });

  it('listen on loopback unless HOST says otherwise', () => {
    expect(new URL(system.usersUrl).hostname).toBe('127.0.0.1');
    expect(new URL(system.notificationsUrl).hostname).toBe('127.0.0.1');
  });

  it('answer the gateway, which sends the secret, across both subgraphs', async () => {
    const response = await eventually(
      () => gql(system.gatewayUrl, '{ users { edges { node { email welcomeEmail { status } } } } }', {}, system.operatorToken),
      (r) => r.data?.users.edges[0]?.node.welcomeEmail?.status === 'SENT' || r.errors !== undefined,
    );
    expect(response.errors).toBeUndefined();
    expect(response.data.users.edges[0].node).toEqual({ email: 'ada@example.com', welcomeEmail: { status: 'SENT' } });
  });

  it.each([
    ['without the secret', {}],
    ['with a wrong secret', { 'x-subgraph-secret': 'not-the-secret-0123456789' }],
    ['with the secret in another header', { authorization: `Bearer ${SECRET}` }],
  ])('refuse a query %s with 401', async (_how, headers) => {
    const response = await post(system.usersUrl, '{ users { totalCount } }', {}, headers);
    expect(response.status).toBe(401);
    expect(await bodyOf(response)).toEqual({
      errors: [{ message: expect.stringMatching(/answers only the gateway/), extensions: { code: 'UNAUTHENTICATED' } }],
    });
  });

  it('refuse _entities without the secret, and answer it with the secret', async () => {
    const representations = [{ __typename: 'User', id: userId }];
    const refused = await post(system.notificationsUrl, ENTITIES, { representations });
    expect(refused.status).toBe(401);
    const answered = await post(system.notificationsUrl, ENTITIES, { representations }, operatorHeaders(SECRET));
    expect(answered.status).toBe(200);
    expect((await bodyOf(answered)).data._entities).toEqual([{ id: userId, welcomeEmail: { status: 'SENT' } }]);
  });

  it('refuse a GET without the secret too', async () => {
    const response = await fetch(`${system.usersUrl}?query=${encodeURIComponent('{ users { totalCount } }')}`, {
      headers: { 'apollo-require-preflight': 'true' },
    });
    expect(response.status).toBe(401);
  });

  it('keep their health routes open to probes', async () => {
    for (const url of [system.usersUrl, system.notificationsUrl]) {
      expect((await fetch(new URL('/health/live', url))).status).toBe(200);
      expect((await fetch(new URL('/health/ready', url))).status).toBe(200);
    }
  });

  describe('a gateway with the wrong secret', () => {
    let gateway: RunningService;

    beforeAll(async () => {
      gateway = await system.startGateway({ SUBGRAPH_SECRET: 'the-wrong-secret-0123456789' });
    });

    afterAll(() => gateway?.stop());

    it('gets an error naming the subgraph that refused it, and is not ready', async () => {
      const response = await gql(gateway.url, '{ users { totalCount } }', {}, system.operatorToken);
      expect(response.errors).toEqual([
        expect.objectContaining({
          message: "The users service refused the gateway's credentials (HTTP 401).",
          extensions: expect.objectContaining({ code: 'SUBGRAPH_UNAVAILABLE', serviceName: 'users' }),
        }),
      ]);
      expect((await fetch(new URL('/health/ready', gateway.url))).status).toBe(503);
    });
  });
});
