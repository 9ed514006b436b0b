import { join } from 'node:path';
import { listSnapshots } from '../../lib/log/file';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';
import { makeDataDir, removeDataDir, startSystem, type TestSystem } from '../helpers/system';

const EVERYONE = `{ users(first: 100) { totalCount edges { node { id email welcomeEmail { status attempts } } } } }`;

describe('snapshots in the running system', () => {
  let smtp: TestSmtpServer;
  let system: TestSystem;
  let dataDir: string;

  beforeAll(async () => {
    smtp = await startSmtpServer();
    dataDir = await makeDataDir();
  });

  afterAll(async () => {
    await system?.close();
    await smtp.close();
    await removeDataDir(dataDir);
  });

  it('snapshots both services every SNAPSHOT_EVERY_RECORDS and restarts from them with every user and no second email', async () => {
    const env = { SNAPSHOT_EVERY_RECORDS: '5' };
    system = await startSystem({ dataDir, smtpUrl: smtp.url, env });
    for (let i = 0; i < 12; i++) {
      const response = await gql(system.gatewayUrl, SIGN_UP, { input: { name: `Snap ${i}`, email: `snap${i}@example.com` } });
      expect(response.data.addUser.errors).toEqual([]);
    }
    await smtp.waitForMessages(12);
    const before = await eventually(
      () => gql(system.gatewayUrl, EVERYONE),
      (response) => response.data?.users?.edges?.every((edge: any) => edge.node.welcomeEmail?.status === 'SENT'),
    );
    await system.close();
    expect((await listSnapshots(join(dataDir, 'users'))).length).toBeGreaterThan(0);
    expect((await listSnapshots(join(dataDir, 'notifications'))).length).toBeGreaterThan(0);

    system = await startSystem({ dataDir, smtpUrl: smtp.url, env });
    const after = await gql(system.gatewayUrl, EVERYONE);
    expect(after.data).toEqual(before.data);
    expect(smtp.messages).toHaveLength(12);
  });
});
