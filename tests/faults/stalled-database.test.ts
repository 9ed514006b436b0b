import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'pg';
import type { RunningService } from '../../lib/service';
import { startUsersService } from '../../subgraphs/users/src/service';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { silentLogger } from '../helpers/logs';
import { describeWithPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres';
import { startStallingProxy, type StallingProxy } from '../helpers/stalling-proxy';
import { useSystem } from '../helpers/system';

const GATEWAY_GIVES_UP_MS = 2_000;

/** The users log's records naming `email`, read from the database itself, past the stalled path. */
const recordsNaming = async (url: string, email: string): Promise<number> => {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ count: string }>(`SELECT count(*) FROM log_records WHERE stream = 'users' AND record LIKE $1`, [`%${email}%`]);
    return Number(rows[0]!.count);
  } finally {
    await client.end();
  }
};

describeWithPostgres('a sign-up that commits while the database answers nobody', () => {
  let cluster: PostgresCluster;
  let proxy: StallingProxy;
  let databaseUrl: string;
  let users: RunningService;
  beforeAll(async () => {
    cluster = await startPostgres();
    proxy = await startStallingProxy({ host: '127.0.0.1', port: cluster.port });
  });
  const fixture = useSystem({
    env: async () => ({ DATABASE_URL: (databaseUrl = await cluster.createDatabase('stalled')), SUBGRAPH_TIMEOUT_MS: String(GATEWAY_GIVES_UP_MS) }),
  });
  beforeAll(async () => {
    // The users service reaches PostgreSQL through the proxy; the gateway's limiter and notifications do not.
    await fixture.system.stop('users');
    const proxied = new URL(databaseUrl);
    proxied.port = String(proxy.port);
    users = await startUsersService({ ...fixture.system.config, DATABASE_URL: proxied.toString() }, { port: fixture.system.ports.users!, logger: silentLogger() });
  });
  afterAll(async () => {
    await users?.stop();
    await proxy?.close();
    await cluster?.stop();
  });

  it.each([
    ['the answer comes back after the gateway gave up', 3_000],
    ['the users service timed out waiting too (statement_timeout 5 s + 1 s)', 7_500],
  ])('%s: the retry with the same key gets the user the first try created, and there is one', async (_, stallMs) => {
    const email = `stalled-${stallMs}@example.com`;
    const input = { name: 'Hedy Lamarr', email, idempotencyKey: `retry-after-stall-${stallMs}` };

    const stalledAt = Date.now();
    proxy.stallAnswers();
    let first;
    try {
      first = await gql(fixture.system.gatewayUrl, SIGN_UP, { input });
      await sleep(stallMs - (Date.now() - stalledAt));
    } finally {
      proxy.resume();
    }
    expect(first.errors?.map((error) => [error.extensions?.code, error.extensions?.reason])).toEqual([['SUBGRAPH_UNAVAILABLE', 'timeout']]);
    expect(await recordsNaming(databaseUrl, email)).toBe(1); // it did commit

    const retry = await eventually(
      () => gql(fixture.system.gatewayUrl, SIGN_UP, { input }),
      (response) => !response.errors,
    );
    const withoutKey = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: input.name, email } });

    expect(retry.data.addUser).toEqual({ user: { id: expect.any(String), name: 'Hedy Lamarr', createdAt: expect.any(String) }, errors: [] });
    expect(withoutKey.data.addUser.errors.map((error: { code: string }) => error.code)).toEqual(['EMAIL_TAKEN']);
    expect(await recordsNaming(databaseUrl, email)).toBe(1);
    expect(await recordsNaming(databaseUrl, retry.data.addUser.user.id)).toBe(1); // the first try's user
    const welcomes = await eventually(
      async () => fixture.smtp.messages.filter((mail) => JSON.stringify(mail.to).includes(email)),
      (mails) => mails.length > 0,
    );
    expect(welcomes).toHaveLength(1);
  }, 40_000);
});
