import { join } from 'node:path';
import { listSnapshots } from '../../lib/log/file';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { useSystem } from '../helpers/system';

const EVERYONE = `{ users(first: 100) { totalCount edges { node { id email welcomeEmail { status attempts } } } } }`;

describe('snapshots in the running system', () => {
  const fixture = useSystem({ env: { SNAPSHOT_EVERY_RECORDS: '5' } });

  it('snapshots both services every SNAPSHOT_EVERY_RECORDS and restarts from them with every user and no second email', async () => {
    for (let i = 0; i < 12; i++) {
      const response = await gql(fixture.system.gatewayUrl, SIGN_UP, { input: { name: `Snap ${i}`, email: `snap${i}@example.com` } });
      expect(response.data.addUser.errors).toEqual([]);
    }
    await fixture.smtp.waitForMessages(12);
    const before = await eventually(
      () => gql(fixture.system.gatewayUrl, EVERYONE, {}, fixture.system.operatorToken),
      (response) => response.data?.users?.edges?.every((edge: any) => edge.node.welcomeEmail?.status === 'SENT'),
    );
    await fixture.system.close();
    // Twelve users' records (and more of notifications'): each log has a snapshot at version 5 or later.
    for (const service of ['users', 'notifications']) {
      const newest = (await listSnapshots(join(fixture.dataDir, service))).at(-1);
      expect(newest?.version).toBeGreaterThanOrEqual(5);
    }

    await fixture.restart();
    const after = await gql(fixture.system.gatewayUrl, EVERYONE, {}, fixture.system.operatorToken);
    expect(after.data).toEqual(before.data);
    expect(fixture.smtp.messages).toHaveLength(12);
  });
});
