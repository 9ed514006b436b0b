import { execFile } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { ROOT } from '../helpers/paths';
import { freePort, spawnService, type ServiceProcess } from '../helpers/processes';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

const USERS = 60;

/**
 * The users log's readers are declared, so the embedded log keeps what a
 * reader that never started yet still needs; a gap found anyway stops the
 * reader instead of skipping it.
 */
describe('the users log and the notifications service that reads it', () => {
  let dataDir: string;
  let smtp: TestSmtpServer;
  const processes: ServiceProcess[] = [];

  beforeEach(async () => {
    dataDir = await makeTempDir('signup-readers-');
    smtp = await startSmtpServer();
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((service) => service.kill()));
    await smtp.close();
    await removeTempDir(dataDir);
  });

  const startUsers = async () => {
    const port = await freePort();
    const users = spawnService('system/start-subgraph.ts users', { DATA_DIR: dataDir, USERS_PORT: String(port), SNAPSHOT_EVERY_RECORDS: '10' });
    processes.push(users);
    await users.waitFor(/listening/);
    return { users, url: `http://127.0.0.1:${port}/graphql` };
  };

  const startNotifications = async () => {
    const port = await freePort();
    const notifications = spawnService('system/start-subgraph.ts notifications', { DATA_DIR: dataDir, NOTIFICATIONS_PORT: String(port), SMTP_URL: smtp.url, SNAPSHOT_EVERY_RECORDS: '10' });
    processes.push(notifications);
    await notifications.waitFor(/listening/);
    return { notifications, ready: () => fetch(`http://127.0.0.1:${port}/health/ready`).then((response) => response.status) };
  };

  const signUps = async (url: string): Promise<string[]> => {
    const emails: string[] = [];
    for (let i = 0; i < USERS; i++) {
      const email = `early${i}@example.com`;
      const answer = await gql(url, SIGN_UP, { input: { name: `Early ${i}`, email } });
      expect(answer.data.addUser.errors).toEqual([]);
      emails.push(email);
    }
    return emails;
  };

  const recipients = () => smtp.messages.map((mail) => (mail.to as { value: { address: string }[] }).value[0]!.address).sort();

  it('keeps every sign-up for notifications when it starts only after snapshots: each user gets one email', async () => {
    const { users, url } = await startUsers();
    const emails = await signUps(url);
    await users.waitFor(/snapshot written[\s\S]*snapshot written[\s\S]*snapshot written/);

    await startNotifications();
    await smtp.waitForMessages(USERS);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(recipients()).toEqual([...emails].sort());
  });

  it('stops at a gap in the users log, not ready and naming it, until an operator queues the missing emails from the users snapshot', async () => {
    const { users, url } = await startUsers();
    const emails = await signUps(url);
    await users.waitFor(/snapshot written[\s\S]*snapshot written[\s\S]*snapshot written/);
    expect(await users.stop('SIGTERM')).toBe(0);
    // What no reader had read is lost to an operator's clean-up: every segment but the newest.
    const segments = (await readdir(join(dataDir, 'users'))).filter((name) => name.startsWith('segment-')).sort();
    for (const name of segments.slice(0, -1)) await rm(join(dataDir, 'users', name));
    const restarted = await startUsers();

    const { notifications, ready } = await startNotifications();
    await notifications.waitFor(/records 1 to \d+ of the users log are gone before this reader read them/);
    expect(await ready()).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(smtp.messages).toHaveLength(0);
    expect(await notifications.stop('SIGTERM')).toBe(0);

    const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'recover:welcome-emails'], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir, NODE_ENV: 'development' } });
    expect(stdout).toMatch(new RegExp(`queued ${USERS} welcome emails`));
    const second = await startNotifications();
    await smtp.waitForMessages(USERS);
    await eventually(second.ready, (status) => status === 200);
    // A sign-up after the recovery is read from the log as usual.
    const late = await gql(restarted.url, SIGN_UP, { input: { name: 'Late', email: 'late@example.com' } });
    expect(late.data.addUser.errors).toEqual([]);
    await smtp.waitForMessages(USERS + 1);
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(recipients()).toEqual([...emails, 'late@example.com'].sort());
  });
});
