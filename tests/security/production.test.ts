import { EXPOSED_CODES, MASKED_MESSAGE, maskError } from '../../gateway/src/errors';
import { startGateway } from '../../gateway/src/service';
import { loadConfig } from '../../lib/config';
import { systemConfig } from '../../system/system';
import { gatewayConfig } from '../../gateway/src/config';
import { notificationsConfig } from '../../subgraphs/notifications/src/config';
import type { RunningService } from '../../lib/service';
import { startFakeSubgraph, type FakeSubgraph } from '../helpers/fake-subgraph';
import { gql } from '../helpers/graphql';
import { recordingLogger } from '../helpers/logs';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';
import { startSystem, type TestSystem } from '../helpers/system';
import { bodyOf } from '../helpers/http';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

const SECRET = 'production-secret-0123456789';
/** Required in production; these tests send no token, so the keys are never fetched. */
const AUTH = { AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json', AUTH_AUDIENCE: 'production-test' };

describe('the gateway in production mode', () => {
  let smtp: TestSmtpServer;
  let system: TestSystem;
  let dataDir: string;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    dataDir = await makeTempDir('signup-e2e-');
    system = await startSystem({
      dataDir,
      smtpUrl: smtp.url,
      env: { NODE_ENV: 'production', SUBGRAPH_SECRET: SECRET, CORS_ORIGINS: 'https://app.example.com' },
    });
  });

  afterAll(async () => {
    await system?.close();
    await smtp?.close();
    await removeTempDir(dataDir);
  });

  it('refuses introspection', async () => {
    for (const query of ['{ __schema { types { name } } }', '{ __type(name: "User") { fields { name } } }']) {
      const response = await gql(system.gatewayUrl, query, {}, system.operatorToken);
      expect(response.status).toBe(400);
      expect(response.data).toBeUndefined();
      expect(response.errors?.[0]).toMatchObject({ message: expect.stringMatching(/introspection is not allowed/), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } });
    }
  });

  it('serves no landing page', async () => {
    const response = await fetch(system.gatewayUrl, { headers: { accept: 'text/html' } });
    expect(response.status).toBe(400);
    expect(response.headers.get('content-type')).not.toMatch(/html/);
    expect(await response.text()).not.toMatch(/sandbox|<html/i);
  });

  it('serves no GraphiQL, built or not', async () => {
    for (const route of ['graphiql', 'graphiql/', 'graphiql/index.html']) {
      const response = await fetch(new URL(route, system.gatewayUrl), { redirect: 'manual', headers: { accept: 'text/html' } });
      expect(response.status).toBe(404);
      expect(await response.text()).not.toMatch(/<html/i);
    }
  });

  it('suggests no field names and shows no stack traces', async () => {
    const response = await gql(system.gatewayUrl, '{ usrs { id } }', {}, system.operatorToken);
    expect(response.status).toBe(400);
    expect(response.errors?.[0]?.message).toMatch(/Cannot query field "usrs"/);
    expect(response.errors?.[0]?.message).not.toMatch(/Did you mean|"users"/);
    expect(JSON.stringify(response)).not.toMatch(/stacktrace|node_modules/);
  });

  it('lets the codes a subgraph raises on purpose through, without internals', async () => {
    const response = await gql(system.gatewayUrl, '{ users(first: 1000) { totalCount } }', {}, system.operatorToken);
    expect(response.errors).toEqual([
      {
        message: '"first" must be between 0 and 100, got 1000.',
        path: ['users'],
        extensions: { code: 'BAD_USER_INPUT', argumentName: 'first', serviceName: 'users' },
      },
    ]);
  });

  it('names an unreachable subgraph without giving its address', async () => {
    const signUp = await gql(system.gatewayUrl, 'mutation { addUser(input: { name: "Ada", email: "ada@example.com" }) { errors { code } } }', {}, system.operatorToken);
    expect(signUp.data.addUser.errors).toEqual([]);
    await system.stop('notifications');
    try {
      const partial = await gql(system.gatewayUrl, '{ users { edges { node { welcomeEmail { status } } } } }', {}, system.operatorToken);
      expect(partial.errors).toEqual([
        expect.objectContaining({
          message: 'The notifications service is unavailable: ECONNREFUSED',
          extensions: { code: 'SUBGRAPH_UNAVAILABLE', serviceName: 'notifications', reason: 'unreachable' },
        }),
      ]);
      expect(JSON.stringify(partial)).not.toMatch(/127\.0\.0\.1|localhost/);
    } finally {
      await system.start('notifications');
    }
  });

  it('allows only the configured origins across origins', async () => {
    const preflight = (origin: string) =>
      fetch(system.gatewayUrl, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
      });
    const allowed = await preflight('https://app.example.com');
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    const other = await preflight('https://evil.example.com');
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
  });
});

describe('masking unexpected errors in production', () => {
  let fake: FakeSubgraph;
  let gateway: RunningService;
  const { logger, lines } = recordingLogger();

  beforeAll(async () => {
    fake = await startFakeSubgraph({
      mode: 'auto',
      body: {
        data: null,
        errors: [
          {
            message: 'connect ECONNREFUSED 10.0.0.7:5432 (password=hunter2)',
            path: ['user'],
            extensions: { code: 'INTERNAL_SERVER_ERROR', stacktrace: ['Error: connect ECONNREFUSED', '    at /srv/users/db.js:12:7'] },
          },
        ],
      },
    });
    const config = loadConfig(gatewayConfig, { NODE_ENV: 'production', SUBGRAPH_SECRET: SECRET, ...AUTH, GATEWAY_PORT: '0' });
    gateway = await startGateway(config, logger, { users: fake.url, notifications: fake.url });
  });

  afterAll(async () => {
    await gateway?.stop();
    await fake?.close();
  });

  it('answers "Internal server error" and logs the original with the request id', async () => {
    const response = await fetch(gateway.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'masked-1' },
      body: JSON.stringify({ query: '{ user(id: "u1") { name } }' }),
    });
    const body = await bodyOf(response);
    expect(response.headers.get('x-request-id')).toBe('masked-1');
    expect(body.errors).toEqual([{ message: 'Internal server error', path: ['user'], extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    expect(JSON.stringify(body)).not.toMatch(/hunter2|10\.0\.0\.7|db\.js/);
    const logged = lines.find((line) => line.msg === 'unexpected error');
    expect(logged).toMatchObject({ reqId: 'masked-1', code: 'INTERNAL_SERVER_ERROR', err: { message: expect.stringContaining('hunter2') } });
  });
});

describe('a production start without its secrets', () => {
  it('is refused, with every missing variable named at once', () => {
    expect(() => loadConfig(systemConfig(), { NODE_ENV: 'production' })).toThrow(/SUBGRAPH_SECRET: required in production[\s\S]*SMTP_URL: required in production/);
    expect(() => loadConfig(gatewayConfig, { NODE_ENV: 'production' })).toThrow(/SUBGRAPH_SECRET/);
    expect(() => loadConfig(gatewayConfig, { NODE_ENV: 'production', SUBGRAPH_SECRET: SECRET })).toThrow(/AUTH_ISSUER[\s\S]*AUTH_AUDIENCE/);
    expect(() => loadConfig(gatewayConfig, { NODE_ENV: 'production', SUBGRAPH_SECRET: SECRET, ...AUTH })).not.toThrow();
    expect(() => loadConfig(notificationsConfig, { NODE_ENV: 'production', SUBGRAPH_SECRET: SECRET })).toThrow(/SMTP_URL/);
  });
});

describe('maskError', () => {
  it('passes every code a client can act on, without stack traces', () => {
    for (const code of EXPOSED_CODES) {
      expect(maskError({ message: 'why', extensions: { code, stacktrace: ['at x'], exception: { stacktrace: [] }, serviceName: 'users' } })).toEqual({
        message: 'why',
        extensions: { code, serviceName: 'users' },
      });
    }
  });

  it('masks everything else, keeping only the path', () => {
    for (const extensions of [{ code: 'INTERNAL_SERVER_ERROR' }, { code: 'DOWNSTREAM_SERVICE_ERROR' }, {}, undefined]) {
      expect(maskError({ message: 'db at 10.0.0.7', path: ['users'], ...(extensions ? { extensions } : {}) })).toEqual({
        message: MASKED_MESSAGE,
        path: ['users'],
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      });
    }
  });
});
