import { startFakeSubgraph, type FakeSubgraph } from '../helpers/fake-subgraph';
import { freePort, spawnService, type ServiceProcess } from '../helpers/processes';
import { bodyOf } from '../helpers/http';

const SECRET = 'shutdown-secret-0123456789';

describe('stopping the gateway process on SIGTERM', () => {
  let users: FakeSubgraph;
  let gateway: ServiceProcess | undefined;

  beforeAll(async () => {
    users = await startFakeSubgraph({ mode: 'hold', body: { data: { user: { name: 'Ada' } } } });
  });

  afterAll(async () => {
    await gateway?.kill();
    await users?.close();
  });

  it('stops accepting, finishes the request in flight, and exits 0', async () => {
    const port = await freePort();
    gateway = spawnService('gateway/src/main.ts', {
      NODE_ENV: 'production',
      SUBGRAPH_SECRET: SECRET,
      // Required in production; no token is sent, so the keys are never fetched.
      AUTH_JWKS_URL: 'http://127.0.0.1:9/jwks.json',
      AUTH_AUDIENCE: 'shutdown-test',
      GATEWAY_PORT: String(port),
      USERS_URL: users.url,
      NOTIFICATIONS_URL: users.url,
      SHUTDOWN_GRACE_MS: '10000',
      // A successful request's line is at debug level.
      LOG_LEVEL: 'debug',
    });
    await gateway.waitFor(/gateway listening/);
    const url = `http://127.0.0.1:${port}/`;

    const inFlight = fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-request-id': 'in-flight-1' },
      body: JSON.stringify({ query: '{ user(id: "u1") { name } }' }),
    });
    const held = await users.nextRequest();
    expect(held.headers['x-subgraph-secret']).toBe(SECRET);
    expect(held.headers['x-request-id']).toBe('in-flight-1');

    gateway.child.kill('SIGTERM');
    await gateway.waitFor(/"inFlight":1,"msg":"gateway stopping"/);
    await expect(fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ __typename }"}' })).rejects.toThrow();

    held.answer();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await bodyOf(response)).toEqual({ data: { user: { name: 'Ada' } } });
    expect(await gateway.stop()).toBe(0);

    // Production logs are JSON lines, and the request's lines carry its id.
    const lines = gateway
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; reqId?: string });
    expect(lines.find((line) => line.msg === 'request completed')).toMatchObject({ reqId: 'in-flight-1' });
    expect(lines.slice(-2)).toEqual([expect.objectContaining({ msg: 'gateway stopped' }), expect.objectContaining({ msg: 'gateway: shutdown complete' })]);
  });

  it('refuses to start in production without the subgraph secret, naming what is missing', async () => {
    const refused = spawnService('gateway/src/main.ts', { NODE_ENV: 'production', GATEWAY_PORT: String(await freePort()), SUBGRAPH_TIMEOUT_MS: 'soon' });
    const code = await new Promise<number | null>((resolve) => refused.child.once('exit', resolve));
    expect(code).toBe(1);
    expect(refused.output()).toMatch(/gateway: Invalid configuration:\n {2}SUBGRAPH_TIMEOUT_MS: .*\n {2}SUBGRAPH_SECRET: required in production/);
  });
});
