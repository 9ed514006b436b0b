import { readdir } from 'node:fs/promises';
import type { RunningService } from '../../lib/service';
import { startUsersService } from '../../subgraphs/users/src/service';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { silentLogger } from '../helpers/logs';
import { describeWithPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres';
import { operatorHeaders, useSystem } from '../helpers/system';

const USER = /* GraphQL */ `
  query User($id: ID!) {
    user(id: $id) { id email }
  }
`;

describeWithPostgres('the system on PostgreSQL (DATABASE_URL set)', () => {
  let cluster: PostgresCluster;
  let replica: RunningService;
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  const fixture = useSystem({ env: async () => ({ DATABASE_URL: await cluster.createDatabase('system') }) });
  beforeAll(async () => {
    // A second users replica on the same database, reached directly rather than through the gateway.
    replica = await startUsersService(fixture.system.config, { port: 0, logger: silentLogger() });
  });
  // After the fixture's own afterAll (hooks run in the order they are declared): the database goes last.
  afterAll(async () => {
    await replica?.stop();
    await cluster?.stop();
  });

  it('signs a user up, sends the welcome email, and writes no log file', async () => {
    const signUp = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Ada', email: 'ada@example.com' } });
    expect(signUp.data.addUser.errors).toEqual([]);

    const [mail] = await fixture.smtp.waitForMessages(1);

    expect(mail!.to).toMatchObject({ value: [{ address: 'ada@example.com' }] });
    expect(await readdir(fixture.dataDir)).not.toContain('users');
  });

  it('shares one state between users replicas: each sees what the other signed up, and an email stays unique across them', async () => {
    const onReplica = await gql(replica.url, SIGN_UP, { input: { name: 'Grace', email: 'grace@example.com' } }, operatorHeaders());
    expect(onReplica.data.addUser.errors).toEqual([]);
    const id = onReplica.data.addUser.user.id as string;

    const seen = await eventually(
      () => gql(fixture.system.usersUrl, USER, { id }, operatorHeaders()),
      (response) => response.data?.user !== null,
    );
    const again = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Grace Again', email: 'GRACE@example.com' } });

    expect(seen.data.user).toEqual({ id, email: 'grace@example.com' });
    expect(again.data.addUser.errors.map((error: { code: string }) => error.code)).toEqual(['EMAIL_TAKEN']);
  });

  it('lets exactly one of two replicas take an email both are given at the same moment', async () => {
    const input = { name: 'Linus', email: 'linus@example.com' };

    const outcomes = await Promise.all([gql(fixture.system.usersUrl, SIGN_UP, { input }, operatorHeaders()), gql(replica.url, SIGN_UP, { input }, operatorHeaders())]);

    const codes = outcomes.map((outcome) => outcome.data.addUser.errors.map((error: { code: string }) => error.code).join());
    expect(codes.sort()).toEqual(['', 'EMAIL_TAKEN']);
  });

  it('answers a sign-up with UNAVAILABLE while the database is down, and takes sign-ups again once it is back', async () => {
    await cluster.kill();
    let during;
    try {
      during = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Barbara', email: 'barbara@example.com' } });
    } finally {
      await cluster.start();
    }
    const after = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: 'Barbara', email: 'barbara@example.com' } });

    expect(during.errors?.map((error) => error.extensions?.code)).toEqual(['UNAVAILABLE']);
    expect(during.errors?.[0]?.message).toMatch(/storage is unavailable/);
    expect(after.data.addUser.errors).toEqual([]);
  });
});
