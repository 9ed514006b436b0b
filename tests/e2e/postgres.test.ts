import { readdir } from 'node:fs/promises';
import pino from 'pino';
import type { RunningService } from '../../lib/service';
import { startUsersService } from '../../subgraphs/users/src/service';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { describeWithPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';
import { startSystem, type TestSystem } from '../helpers/system';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

const USER = /* GraphQL */ `
  query User($id: ID!) {
    user(id: $id) { id email }
  }
`;

describeWithPostgres('the system on PostgreSQL (DATABASE_URL set)', () => {
  let cluster: PostgresCluster;
  let smtp: TestSmtpServer;
  let system: TestSystem;
  let replica: RunningService;
  let dataDir: string;

  beforeAll(async () => {
    cluster = await startPostgres();
    smtp = await startSmtpServer();
    dataDir = await makeTempDir('signup-e2e-');
    system = await startSystem({ dataDir, smtpUrl: smtp.url, env: { DATABASE_URL: await cluster.createDatabase('system') } });
    // A second users replica on the same database, reached directly rather than through the gateway.
    replica = await startUsersService({ ...system.config, USERS_PORT: 0 }, pino({ level: 'silent' }));
  });

  afterAll(async () => {
    await replica?.stop();
    await system?.close();
    await smtp?.close();
    await cluster?.stop();
    await removeTempDir(dataDir);
  });

  it('signs a user up, sends the welcome email, and writes no log file', async () => {
    const signUp = await gql(system.gatewayUrl, SIGN_UP, { input: { name: 'Ada', email: 'ada@example.com' } });
    expect(signUp.data.addUser.errors).toEqual([]);

    const [mail] = await smtp.waitForMessages(1);

    expect(mail!.to).toMatchObject({ value: [{ address: 'ada@example.com' }] });
    expect(await readdir(dataDir)).not.toContain('users');
  });

  it('shares one state between users replicas: each sees what the other signed up, and an email stays unique across them', async () => {
    const onReplica = await gql(replica.url, SIGN_UP, { input: { name: 'Grace', email: 'grace@example.com' } });
    expect(onReplica.data.addUser.errors).toEqual([]);
    const id = onReplica.data.addUser.user.id as string;

    const seen = await eventually(
      () => gql(system.usersUrl, USER, { id }),
      (response) => response.data?.user !== null,
    );
    const again = await gql(system.gatewayUrl, SIGN_UP, { input: { name: 'Grace Again', email: 'GRACE@example.com' } });

    expect(seen.data.user).toEqual({ id, email: 'grace@example.com' });
    expect(again.data.addUser.errors.map((error: { code: string }) => error.code)).toEqual(['EMAIL_TAKEN']);
  });

  it('lets exactly one of two replicas take an email both are given at the same moment', async () => {
    const input = { name: 'Linus', email: 'linus@example.com' };

    const outcomes = await Promise.all([gql(system.usersUrl, SIGN_UP, { input }), gql(replica.url, SIGN_UP, { input })]);

    const codes = outcomes.map((outcome) => outcome.data.addUser.errors.map((error: { code: string }) => error.code).join());
    expect(codes.sort()).toEqual(['', 'EMAIL_TAKEN']);
  });

  it('answers a sign-up with UNAVAILABLE while the database is down, and takes sign-ups again once it is back', async () => {
    await cluster.kill();
    let during;
    try {
      during = await gql(system.gatewayUrl, SIGN_UP, { input: { name: 'Barbara', email: 'barbara@example.com' } });
    } finally {
      await cluster.start();
    }
    const after = await gql(system.gatewayUrl, SIGN_UP, { input: { name: 'Barbara', email: 'barbara@example.com' } });

    expect(during.errors?.map((error) => error.extensions?.code)).toEqual(['UNAVAILABLE']);
    expect(during.errors?.[0]?.message).toMatch(/storage is unavailable/);
    expect(after.data.addUser.errors).toEqual([]);
  });
});
