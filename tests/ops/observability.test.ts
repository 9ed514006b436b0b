import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { recordingLogger } from '../helpers/logs';
import { useSystem } from '../helpers/system';
import { bodyOf } from '../helpers/http';

const origin = (url: string) => new URL(url).origin;
const metricsOf = async (url: string) => (await fetch(`${origin(url)}/metrics`)).text();
/** The value of one sample, e.g. `signups_total{outcome="created"}`: labels given must all be present. */
const sample = (text: string, name: string, labels: Record<string, string> = {}): number | undefined => {
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`))) return Number(line.split(' ').at(-1));
  }
  return undefined;
};

describe('operating the services', () => {
  const { logger, lines } = recordingLogger('debug');
  const fixture = useSystem({ logger });

  describe('health', () => {
    it('every service is live and ready', async () => {
      for (const url of [fixture.system.gatewayUrl, fixture.system.usersUrl, fixture.system.notificationsUrl]) {
        for (const path of ['/health/live', '/health/ready']) {
          const response = await fetch(`${origin(url)}${path}`);
          expect({ url, path, status: response.status }).toEqual({ url, path, status: 200 });
        }
      }
    });

    it('the gateway is not ready while a subgraph is down, and ready again once it is back', async () => {
      const ready = () => fetch(`${origin(fixture.system.gatewayUrl)}/health/ready`);
      await fixture.system.stop('users');
      try {
        const down = await eventually(ready, (response) => response.status === 503);
        expect(await bodyOf(down)).toEqual({ status: 'not ready' });
        expect((await fetch(`${origin(fixture.system.gatewayUrl)}/health/live`)).status).toBe(200);
      } finally {
        await fixture.system.start('users');
      }
      await eventually(ready, (response) => response.status === 200);
    });
  });

  describe('request ids', () => {
    it('takes a well-formed x-request-id, echoes it and sends it to the subgraphs, and binds it to every log line of the request', async () => {
      const response = await fetch(fixture.system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'req-42.abc' },
        body: JSON.stringify({ query: SIGN_UP, variables: { input: { name: 'Grace', email: 'grace@example.com' } } }),
      });
      expect(response.headers.get('x-request-id')).toBe('req-42.abc');
      expect((await bodyOf(response)).data.addUser.errors).toEqual([]);

      const mine = lines.filter((line) => line.reqId === 'req-42.abc');
      expect(mine).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ service: 'gateway', msg: 'request completed', status: 200 }),
          expect.objectContaining({ service: 'users', msg: 'request completed' }),
          expect.objectContaining({ service: 'users', msg: 'user signed up' }),
        ]),
      );
      const requestLines = lines.filter((line) => line.msg === 'request completed' || line.msg === 'user signed up');
      expect(requestLines.every((line) => typeof line.reqId === 'string')).toBe(true);
    });

    it('logs a request at info level when it is refused, at debug level when it succeeds', async () => {
      const [ok, refused] = [
        await fetch(fixture.system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'level-ok' }, body: '{"query":"{ __typename }"}' }),
        await fetch(fixture.system.gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'level-bad' }, body: '{"query":' }),
      ];
      expect([ok.status, refused.status]).toEqual([200, 400]);
      const completed = (reqId: string) => lines.find((line) => line.reqId === reqId && line.msg === 'request completed');
      expect(completed('level-ok')).toMatchObject({ level: 20, status: 200 });
      expect(completed('level-bad')).toMatchObject({ level: 30, status: 400 });
    });

    it.each([
      ['too long', 'x'.repeat(200)],
      ['with unsafe characters', 'id with spaces<script>'],
    ])('replaces an x-request-id that is %s with one of its own', async (_why, given) => {
      const response = await fetch(fixture.system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': given },
        body: JSON.stringify({ query: '{ __typename }' }),
      });
      expect(response.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('logs no email address and no message body', async () => {
      const sent = () => lines.filter((line) => line.msg === 'email sent').length;
      const sentBefore = sent();
      await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Hedy', email: 'hedy@example.com' } });
      await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Hedy', email: 'HEDY@example.com' } });
      // A sign-up, a refusal (EMAIL_TAKEN), then Hedy's welcome email all the way to SMTP: every line they log is in.
      await eventually(async () => sent(), (count) => count > sentBefore);
      const everything = JSON.stringify(lines);
      expect(everything).not.toMatch(/@example\.com/i);
      expect(everything).not.toMatch(/Welcome, Hedy|Hello Hedy/);
    });
  });

  describe('metrics', () => {
    it('the gateway counts requests and latency by operation name, errors by code', async () => {
      await gql(fixture.system.gatewayUrl, 'query CountUsers { users { totalCount } }');
      await gql(fixture.system.gatewayUrl, 'query Broken { nope }');
      const text = await metricsOf(fixture.system.gatewayUrl);
      expect(sample(text, 'graphql_requests_total', { operation: 'CountUsers', service: 'gateway' })).toBe(1);
      expect(sample(text, 'graphql_request_duration_seconds_count', { operation: 'CountUsers' })).toBe(1);
      expect(sample(text, 'graphql_errors_total', { code: 'GRAPHQL_VALIDATION_FAILED' })).toBeGreaterThanOrEqual(1);
      expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    });

    it('the users service counts sign-ups by outcome and log append latency', async () => {
      const before = await metricsOf(fixture.system.usersUrl);
      await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Count', email: 'count1@example.com' } });
      await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Count', email: 'count2@example.com' } });
      await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Count', email: 'COUNT1@example.com' } });
      const after = await metricsOf(fixture.system.usersUrl);
      const grew = (name: string, labels: Record<string, string>) => (sample(after, name, labels) ?? 0) - (sample(before, name, labels) ?? 0);
      expect(grew('signups_total', { outcome: 'created' })).toBe(2);
      expect(grew('signups_total', { outcome: 'EMAIL_TAKEN' })).toBe(1);
      expect(grew('log_append_duration_seconds_count', { service: 'users' })).toBe(2);
    });

    it('the notifications service counts emails by status, log append latency and consumer lag', async () => {
      const before = await metricsOf(fixture.system.notificationsUrl);
      const sentBefore = sample(before, 'emails_total', { status: 'sent' }) ?? 0;
      await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Mail', email: 'mail1@example.com' } });
      await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Mail', email: 'mail2@example.com' } });
      const text = await eventually(
        () => metricsOf(fixture.system.notificationsUrl),
        // Earlier tests' emails may still be on their way: at least these two are counted.
        (t) => (sample(t, 'emails_total', { status: 'sent' }) ?? 0) >= sentBefore + 2 && sample(t, 'consumer_lag_records') === 0,
      );
      // Each email: an attempt recorded before it is sent and its outcome after.
      const appends = (t: string) => sample(t, 'log_append_duration_seconds_count', { service: 'notifications' }) ?? 0;
      expect(appends(text) - appends(before)).toBeGreaterThanOrEqual(4);
    });
  });
});
