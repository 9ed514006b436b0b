import { parse, type OperationDefinitionNode } from 'graphql';
import { Client, Pool } from 'pg';
import { addressKey, countRootField, createSignUpLimiter, postgresCounters } from '../../gateway/src/rate-limit';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import type { RunningService } from '../../lib/service';
import { silentLogger } from '../helpers/logs';
import { describeWithPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres';
import { startStallingProxy, type StallingProxy } from '../helpers/stalling-proxy';
import { useSystem } from '../helpers/system';
import { bodyOf } from '../helpers/http';

const countAddUser = (source: string) => {
  const document = parse(source);
  const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition')!;
  return countRootField(document, operation, 'addUser');
};

/** One request signing up every email, each under its own alias. */
const aliased = (emails: string[]) =>
  `mutation { ${emails.map((email, i) => `a${i}: addUser(input: { name: "Alias ${i}", email: "${email}" }) { user { id } errors { code } }`).join(' ')} }`;

describe('counting sign-ups in an operation', () => {
  it('counts each addUser, aliased or not, through fragments and inline fragments', () => {
    expect(countAddUser('mutation { addUser(input: $a) { user { id } } }')).toBe(1);
    expect(countAddUser('mutation { a: addUser(input: $a) { user { id } } b: addUser(input: $b) { user { id } } }')).toBe(2);
    expect(countAddUser('mutation { ...F ... on Mutation { c: addUser(input: $c) { user { id } } } } fragment F on Mutation { a: addUser(input: $a) { user { id } } b: addUser(input: $b) { user { id } } }')).toBe(3);
  });

  it('counts a fragment spread twice as twice, in linear time', () => {
    const levels = 40;
    const source = [
      'mutation { ...F0 }',
      ...Array.from({ length: levels }, (_, i) => `fragment F${i} on Mutation { ...F${i + 1} ...F${i + 1} }`),
      `fragment F${levels} on Mutation { addUser(input: $a) { user { id } } }`,
    ].join('\n');
    expect(countAddUser(source)).toBe(2 ** levels);
  });

  it('counts nothing in queries or in nested fields', () => {
    expect(countAddUser('query { addUser { id } }')).toBe(0);
    expect(countAddUser('mutation { resendWelcomeEmail(userId: "1") { delivery { addUser } } }')).toBe(0);
  });
});

describe('the address a client is counted under', () => {
  it('is an IPv4 address itself, also when written IPv4-mapped', () => {
    expect(addressKey('203.0.113.7', 64)).toBe('203.0.113.7');
    expect(addressKey('::ffff:203.0.113.7', 64)).toBe('203.0.113.7');
  });

  it('is the /64 (or the configured prefix) of an IPv6 address, however it is written', () => {
    expect(addressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd', 64)).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:0DB8:0001:0002:0000:0000:0000:0001', 64)).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:3::1', 64)).toBe('2001:db8:1:3::/64');
    expect(addressKey('2001:db8:1:3::1', 48)).toBe('2001:db8:1::/48');
    expect(addressKey('2001:db8:1:3::1', 128)).toBe('2001:db8:1:3::1/128');
  });

  it('leaves what is no address as it is', () => {
    expect(addressKey('unknown', 64)).toBe('unknown');
  });
});

describe('the sign-up limiter', () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 0 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  it('refuses past the per-address limit until the window has passed, all or nothing', async () => {
    const limiter = createSignUpLimiter({ perIp: 3, global: 100, windowMs: 1000, ipv6Prefix: 64 });
    expect(await limiter.take('a', 2)).toEqual({ ok: true });
    expect(await limiter.take('a', 2)).toEqual({ ok: false, scope: 'ip', retryAfterMs: 1000 });
    expect(await limiter.take('a', 1)).toEqual({ ok: true });
    jest.setSystemTime(400);
    expect(await limiter.take('a', 1)).toEqual({ ok: false, scope: 'ip', retryAfterMs: 600 });
    expect(await limiter.take('b', 1)).toEqual({ ok: true });
    jest.setSystemTime(1000);
    expect(await limiter.take('a', 3)).toEqual({ ok: true });
  });

  it('refuses everyone past the global limit, and a refused request takes nothing from its address', async () => {
    const limiter = createSignUpLimiter({ perIp: 2, global: 3, windowMs: 1000, ipv6Prefix: 64 });
    expect(await limiter.take('a', 2)).toEqual({ ok: true });
    jest.setSystemTime(100);
    expect(await limiter.take('b', 2)).toEqual({ ok: false, scope: 'global', retryAfterMs: 900 });
    // Had the refusal taken b's two, this would exceed b's limit of two.
    expect(await limiter.take('b', 1)).toEqual({ ok: true });
    expect(await limiter.take('c', 1)).toEqual({ ok: false, scope: 'global', retryAfterMs: 900 });
  });
});

describe('sign-up rate limits at the gateway', () => {
  const fixture = useSystem({ env: { SIGNUP_RATE_PER_IP: '3', SIGNUP_RATE_GLOBAL: '8', SIGNUP_RATE_WINDOW_MS: '600000', TRUST_PROXY: 'loopback' } });

  // Behind a proxy on loopback, X-Forwarded-For names the client: each test plays a different one.
  const from = (ip: string, query: string, variables?: Record<string, unknown>) =>
    fetch(fixture.system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
      body: JSON.stringify({ query, variables }),
    });
  const signUp = (ip: string, n: string) => from(ip, SIGN_UP, { input: { name: `User ${n}`, email: `user${n}@example.com` } });
  const countUsers = async () => (await gql(fixture.system.gatewayUrl, '{ users { totalCount } }', {}, fixture.system.operatorToken)).data.users.totalCount as number;

  it('refuses the limit+1st sign-up from one address with RATE_LIMITED, and writes nothing', async () => {
    for (const n of ['a1', 'a2', 'a3']) expect((await bodyOf(await signUp('203.0.113.1', n))).data.addUser.user).not.toBeNull();
    const before = await countUsers();

    const response = await signUp('203.0.113.1', 'a4');
    expect(response.status).toBe(429);
    expect(Number(response.headers.get('retry-after'))).toBeGreaterThan(0);
    const body = await bodyOf(response);
    expect(body.data).toBeUndefined();
    expect(body.errors).toEqual([
      {
        message: expect.stringMatching(/^Too many sign-ups from your address; try again in \d+ s\.$/),
        extensions: expect.objectContaining({ code: 'RATE_LIMITED', scope: 'ip', retryAfter: expect.any(Number) }),
      },
    ]);
    expect(await countUsers()).toBe(before);
  });

  it('counts aliased sign-ups in one request, refusing the whole request when they do not fit', async () => {
    const fits = await bodyOf(await from('203.0.113.2', aliased(['b1@example.com', 'b2@example.com'])));
    expect(fits.data).toEqual({ a0: { user: { id: expect.any(String) }, errors: [] }, a1: { user: { id: expect.any(String) }, errors: [] } });
    const before = await countUsers();

    const tooMany = await from('203.0.113.2', aliased(['b3@example.com', 'b4@example.com']));
    expect(tooMany.status).toBe(429);
    expect((await bodyOf(tooMany)).errors[0].extensions.code).toBe('RATE_LIMITED');
    expect(await countUsers()).toBe(before);

    expect((await bodyOf(await signUp('203.0.113.2', 'b5'))).data.addUser.user).not.toBeNull();
  });

  it('refuses a request asking for more sign-ups than an address may ever make in a window', async () => {
    const response = await from('203.0.113.3', aliased(['c1@example.com', 'c2@example.com', 'c3@example.com', 'c4@example.com']));
    expect((await bodyOf(response)).errors[0]).toMatchObject({
      message: 'This request asks for 4 sign-ups; at most 3 are allowed per address in a window.',
      extensions: { code: 'RATE_LIMITED', scope: 'ip' },
    });
  });

  it('refuses everyone once the global limit is reached', async () => {
    // 6 taken so far (a1-a3, b1, b2, b5): two more fit, the next does not, whoever asks.
    expect((await bodyOf(await from('203.0.113.4', aliased(['d1@example.com', 'd2@example.com'])))).errors).toBeUndefined();
    const response = await signUp('203.0.113.5', 'e1');
    expect(response.status).toBe(429);
    expect((await bodyOf(response)).errors[0]).toMatchObject({
      message: expect.stringMatching(/^Too many sign-ups right now/),
      extensions: { code: 'RATE_LIMITED', scope: 'global' },
    });
  });
});

describe('sign-up rate limits without a trusted proxy (TRUST_PROXY unset)', () => {
  const fixture = useSystem({ env: { SIGNUP_RATE_PER_IP: '2' } });

  it('keys on the peer address: a forged X-Forwarded-For buys no extra sign-ups', async () => {
    const forged = (n: number) =>
      fetch(fixture.system.gatewayUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `198.51.100.${n}` },
        body: JSON.stringify({ query: SIGN_UP, variables: { input: { name: `Forged ${n}`, email: `forged${n}@example.com` } } }),
      });
    for (const n of [1, 2]) expect((await bodyOf(await forged(n))).data.addUser.errors).toEqual([]);
    const refused = await forged(3);
    expect(refused.status).toBe(429);
    expect((await bodyOf(refused)).errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'ip' });
  });
});

describe('sign-up rate limits for IPv6 clients', () => {
  const fixture = useSystem({ env: { SIGNUP_RATE_PER_IP: '3', TRUST_PROXY: 'loopback' } });
  const signUpFrom = (ip: string, n: number) =>
    fetch(fixture.system.gatewayUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': ip },
      body: JSON.stringify({ query: SIGN_UP, variables: { input: { name: `Six ${n}`, email: `six${n}@example.com` } } }),
    });

  it('counts a /64 as one client: a new address from the same network buys no sign-up, another network has its own', async () => {
    for (const n of [1, 2, 3]) expect((await signUpFrom(`2001:db8:aa:1::${n}`, n)).status).toBe(200);
    const rotated = await signUpFrom('2001:db8:aa:1:ffff:ffff:ffff:4', 4);
    expect(rotated.status).toBe(429);
    expect((await bodyOf(rotated)).errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'ip' });
    expect((await signUpFrom('2001:db8:aa:2::1', 5)).status).toBe(200);
  });
});

describe('one welcome email per address', () => {
  const fixture = useSystem();

  it('sends at most one, even to two sign-ups for it in one request', async () => {
    const { gatewayUrl } = fixture.system;
    const twice = await gql(gatewayUrl, aliased(['twice@example.com', 'TWICE@example.com']));
    const outcomes = [twice.data.a0, twice.data.a1];
    expect(outcomes.filter((o) => o.user)).toHaveLength(1);
    expect(outcomes.flatMap((o) => o.errors)).toEqual([{ code: 'EMAIL_TAKEN' }]);
    const again = await gql(gatewayUrl, SIGN_UP, { input: { name: 'Again', email: 'Twice@Example.com' } });
    expect(again.data.addUser.errors[0].code).toBe('EMAIL_TAKEN');

    // Events are consumed in order: once the marker's email is out, any second email to twice@ would be too.
    await gql(gatewayUrl, SIGN_UP, { input: { name: 'Marker', email: 'marker@example.com' } });
    const messages = await fixture.smtp.waitForMessages(2);
    expect(messages.map((m) => m.to && !Array.isArray(m.to) && m.to.value[0]?.address)).toEqual(['twice@example.com', 'marker@example.com']);
  });
});

describeWithPostgres('sign-up rate limits across gateway replicas (DATABASE_URL set)', () => {
  let cluster: PostgresCluster;
  let second: RunningService;
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  const fixture = useSystem({
    env: async () => ({ DATABASE_URL: await cluster.createDatabase('limits'), SIGNUP_RATE_PER_IP: '3', TRUST_PROXY: 'loopback' }),
  });
  beforeAll(async () => {
    second = await fixture.system.startGateway();
  });
  // After the fixture's own afterAll (hooks run in the order they are declared): the database goes last.
  afterAll(async () => {
    await second?.stop();
    await cluster?.stop();
  });

  const signUpAt = (url: string, n: number) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '203.0.113.50' },
      body: JSON.stringify({ query: SIGN_UP, variables: { input: { name: `Replica ${n}`, email: `replica${n}@example.com` } } }),
    });

  it('counts one address once across two gateways on one database', async () => {
    const [first, other] = [fixture.system.gatewayUrl, second.url];
    expect((await signUpAt(first, 1)).status).toBe(200);
    expect((await signUpAt(other, 2)).status).toBe(200);
    expect((await signUpAt(first, 3)).status).toBe(200);
    for (const url of [other, first]) {
      const refused = await signUpAt(url, 4);
      expect(refused.status).toBe(429);
      expect((await bodyOf(refused)).errors[0].extensions).toMatchObject({ code: 'RATE_LIMITED', scope: 'ip' });
    }
  });

  it('lets fresh gateways create the counters table at the same moment', async () => {
    const failures: unknown[] = [];
    for (let round = 0; round < 20; round++) {
      const url = await cluster.createDatabase(`fresh-limits-${round}`);
      const pools = Array.from({ length: 4 }, () => new Pool({ connectionString: url }));
      const started = await Promise.allSettled(pools.map((pool) => postgresCounters(pool, { logger: silentLogger() })));
      for (const outcome of started) {
        if (outcome.status === 'rejected') failures.push((outcome.reason as Error).message);
        else outcome.value.close();
      }
      await Promise.all(pools.map((pool) => pool.end()));
    }
    expect(failures).toEqual([]);
  });

  describe('while the database does not answer', () => {
    let proxy: StallingProxy;
    let stalled: RunningService;
    beforeAll(async () => {
      proxy = await startStallingProxy({ host: '127.0.0.1', port: cluster.port });
      const proxied = new URL(fixture.system.config.DATABASE_URL!);
      proxied.port = String(proxy.port);
      stalled = await fixture.system.startGateway({ DATABASE_URL: proxied.toString() });
    });
    afterAll(async () => {
      proxy?.resume();
      await stalled?.stop();
      await proxy?.close();
    });
    const inMemory = async () => {
      const text = await (await fetch(new URL('/metrics', stalled.url))).text();
      return Object.fromEntries([...text.matchAll(/^signup_counts_in_memory_total\{reason="(\w+)"[^}]*\} (\d+)$/gm)].map(([, reason, n]) => [reason, Number(n)]));
    };

    const signUpFrom = (address: string, n: number) =>
      fetch(stalled.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-forwarded-for': address },
        body: JSON.stringify({ query: SIGN_UP, variables: { input: { name: `Stalled ${n}`, email: `stalled${n}@example.com` } } }),
      });
    const countedInDatabase = async (address: string) => {
      const client = new Client({ connectionString: fixture.system.config.DATABASE_URL });
      await client.connect();
      try {
        return (await client.query('SELECT 1 FROM signup_rate_limits WHERE key = $1', [`signup-ip:${address}`])).rowCount === 1;
      } finally {
        await client.end();
      }
    };

    it('counts sign-ups in memory without waiting on it (the breaker opens after one timeout), still limited, and in the database again once it is back', async () => {
      proxy.stallAnswers();
      const statuses: number[] = [];
      try {
        for (const n of [1, 2, 3, 4]) statuses.push((await signUpFrom('203.0.113.60', n)).status);
      } finally {
        proxy.resume();
      }
      expect(statuses).toEqual([200, 200, 200, 429]);
      // Two counters per sign-up (the address, everyone): one timed out, then the breaker asked the database nothing.
      expect(await inMemory()).toEqual({ timeout: 1, open: 7 });

      // After the cool-down (5 s) one count tries the database again, and the breaker closes.
      let n = 0;
      await eventually(
        async () => {
          n += 1;
          expect((await signUpFrom(`198.51.100.${n}`, 100 + n)).status).toBe(200);
          return countedInDatabase(`198.51.100.${n}`);
        },
        (counted) => counted,
        10_000,
      );
      const settled = await inMemory();
      expect((await signUpFrom('203.0.113.99', 99)).status).toBe(200);
      expect(await countedInDatabase('203.0.113.99')).toBe(true);
      expect(n).toBeGreaterThan(1); // the database was not asked during the cool-down
      expect(await inMemory()).toEqual(settled);
    }, 30_000);
  });
});
