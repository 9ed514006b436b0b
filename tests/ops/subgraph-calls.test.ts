import pino from 'pino';
import { startGateway } from '../../gateway/src/service';
import { loadConfig } from '../../lib/config';
import { gatewayConfig } from '../../gateway/src/config';
import type { RunningService } from '../../lib/service';
import { startFakeSubgraph, type FakeSubgraph } from '../helpers/fake-subgraph';
import { gql } from '../helpers/graphql';
import { bodyOf } from '../helpers/http';

const TIMEOUT_MS = 300;

const gatewayFor = (usersUrl: string, notificationsUrl: string) =>
  startGateway(
    loadConfig(gatewayConfig, { NODE_ENV: 'test', GATEWAY_PORT: '0', SUBGRAPH_TIMEOUT_MS: String(TIMEOUT_MS) }),
    pino({ level: 'silent' }),
    { users: usersUrl, notifications: notificationsUrl },
  );

describe('calls from the gateway to the subgraphs', () => {
  let hung: FakeSubgraph;
  let healthy: FakeSubgraph;
  let gateway: RunningService;

  beforeAll(async () => {
    hung = await startFakeSubgraph({ mode: 'never' });
    healthy = await startFakeSubgraph({ mode: 'auto', body: { data: { user: { name: 'Ada' } } } });
  });

  afterEach(async () => {
    await gateway?.stop(0);
  });

  afterAll(async () => {
    await hung?.close();
    await healthy?.close();
  });

  it('give up on a subgraph that never answers within the timeout, with an error naming it', async () => {
    gateway = await gatewayFor(hung.url, healthy.url);
    const started = performance.now();
    const response = await gql(gateway.url, '{ user(id: "u1") { name } }');
    const elapsed = performance.now() - started;

    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 10);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1_500);
    expect(response.status).toBe(200);
    expect(response.errors).toEqual([
      expect.objectContaining({
        message: `The users service did not answer within ${TIMEOUT_MS} ms.`,
        extensions: expect.objectContaining({ code: 'SUBGRAPH_UNAVAILABLE', serviceName: 'users', reason: 'timeout' }),
      }),
    ]);
    const metrics = await (await fetch(new URL('/metrics', gateway.url))).text();
    expect(metrics).toMatch(/subgraph_failures_total\{[^}]*subgraph="users"[^}]*reason="timeout"[^}]*\} 1/);
  });

  it('reuse one keep-alive connection for successive calls, with the request id on each', async () => {
    gateway = await gatewayFor(healthy.url, healthy.url);
    const before = healthy.received.length;
    const connectionsBefore = healthy.connections();
    for (const n of [1, 2, 3, 4, 5]) {
      const response = await fetch(gateway.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': `keep-alive-${n}` },
        body: JSON.stringify({ query: '{ user(id: "u1") { name } }' }),
      });
      expect((await bodyOf(response)).data).toEqual({ user: { name: 'Ada' } });
    }
    expect(healthy.received.slice(before).map((r) => r.headers['x-request-id'])).toEqual(['keep-alive-1', 'keep-alive-2', 'keep-alive-3', 'keep-alive-4', 'keep-alive-5']);
    expect(healthy.connections() - connectionsBefore).toBe(1);
  });
});
