import { readFile, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { listSegments } from '../../lib/log/file';
import { eventually, gql } from '../helpers/graphql';
import { freePort, portsEnv, spawnService, type ServiceProcess } from '../helpers/processes';
import { startSmtpServer } from '../helpers/smtp';
import { FAST_RETRY, TEST_SUBGRAPH_SECRET, operatorHeaders, operatorTokenFor } from '../helpers/system';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

const ADD_USER = `mutation($input: AddUserInput!) { addUser(input: $input) { user { id email } errors { code } } }`;
const PAGE = `query($after: String) { users(first: 100, after: $after) { totalCount edges { node { id email } } pageInfo { hasNextPage endCursor } } }`;

/** The state letter of a process from /proc/<pid>/stat (R, S, Z for a zombie, …); the name in parentheses may hold spaces. */
const processState = async (pid: number) => (await readFile(`/proc/${pid}/stat`, 'utf8')).replace(/^.*\) /s, '')[0];

/** Every user the service has, paged through as a client would. */
const allUsers = async (url: string) => {
  const users: { id: string; email: string }[] = [];
  let after: string | null = null;
  for (;;) {
    const page: any = await gql(url, PAGE, { after }, operatorHeaders());
    expect(page.errors).toBeUndefined();
    users.push(...page.data.users.edges.map((edge: any) => edge.node));
    if (!page.data.users.pageInfo.hasNextPage) return { users, totalCount: page.data.users.totalCount as number };
    after = page.data.users.pageInfo.endCursor;
  }
};

/** What `npm start` needs to run on free ports with quick SMTP retries, and where its gateway then answers. */
const wholeSystem = async (smtpUrl: string) => {
  const ports = await portsEnv();
  return { env: { ...ports, SMTP_URL: smtpUrl, ...FAST_RETRY }, gatewayUrl: `http://127.0.0.1:${ports.GATEWAY_PORT}/` };
};

describe('crashes and power cuts', () => {
  let dataDir: string;
  const processes: ServiceProcess[] = [];
  const spawn = (entry: string, env: Record<string, string>) => {
    const service = spawnService(entry, { DATA_DIR: dataDir, SUBGRAPH_SECRET: TEST_SUBGRAPH_SECRET, ...env });
    processes.push(service);
    return service;
  };

  beforeEach(async () => {
    dataDir = await makeTempDir('signup-e2e-');
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((service) => service.kill()));
    await removeTempDir(dataDir);
  });

  it('keeps every acknowledged sign-up exactly once when the users service is killed -9 under 32 concurrent clients, three rounds', async () => {
    const port = String(await freePort());
    const url = `http://127.0.0.1:${port}/graphql`;
    const acknowledged = new Map<string, string>();
    for (let round = 1; round <= 3; round++) {
      const users = spawn('system/start-subgraph.ts users', { USERS_PORT: port });
      await users.waitFor(/users listening/);
      let dead = false;
      // Killed at a random moment once this round has 40 acknowledged sign-ups: a fixed time
      // would assume a throughput that a loaded machine does not always have.
      const roundStart = acknowledged.size;
      let reached!: () => void;
      const enough = new Promise<void>((resolve) => (reached = resolve));
      const clients = Array.from({ length: 32 }, async (_, client) => {
        for (let i = 0; !dead; i++) {
          const email = `r${round}-c${client}-${i}@example.com`;
          try {
            const response = await gql(url, ADD_USER, { input: { name: `Client ${client}`, email } }, operatorHeaders());
            if (response.data?.addUser?.user) acknowledged.set(response.data.addUser.user.id, email);
            if (acknowledged.size - roundStart >= 40) reached();
          } catch {
            return; // the connection died with the process: this sign-up was never acknowledged
          }
        }
      });
      await enough;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 700));
      dead = true;
      expect(await users.stop('SIGKILL')).toBe('SIGKILL');
      await Promise.all(clients);
    }
    expect(acknowledged.size).toBeGreaterThan(100);

    const restarted = spawn('system/start-subgraph.ts users', { USERS_PORT: port });
    await restarted.waitFor(/users listening/);
    const { users, totalCount } = await allUsers(url);
    expect(users).toHaveLength(totalCount);
    expect(new Set(users.map((user) => user.id)).size).toBe(users.length);
    expect(new Set(users.map((user) => user.email)).size).toBe(users.length);
    const stored = new Map(users.map((user) => [user.id, user.email]));
    const missing = [...acknowledged].filter(([id, email]) => stored.get(id) !== email);
    expect(missing).toEqual([]);
  });

  it('exits when its log can no longer be written (a full disk), and a restart keeps every acknowledged sign-up', async () => {
    const port = String(await freePort());
    const url = `http://127.0.0.1:${port}/graphql`;
    const full = spawnService('system/start-subgraph.ts users', { DATA_DIR: dataDir, SUBGRAPH_SECRET: TEST_SUBGRAPH_SECRET, USERS_PORT: port }, { fileSizeLimitKb: 16 });
    processes.push(full);
    await full.waitFor(/users listening/);
    const acknowledged: string[] = [];
    for (let i = 0; acknowledged.length < 1000; i++) {
      const response = await gql(url, ADD_USER, { input: { name: `Full ${i}`, email: `full${i}@example.com` } }, operatorHeaders()).catch(() => undefined);
      if (!response?.data?.addUser?.user) break;
      acknowledged.push(response.data.addUser.user.email);
    }
    expect(await full.exited()).toBe(1);
    expect(full.output()).toMatch(/the log cannot be written/);
    expect(full.output()).toMatch(/EFBIG/);
    expect(acknowledged.length).toBeGreaterThan(5);

    const restarted = spawn('system/start-subgraph.ts users', { USERS_PORT: port });
    await restarted.waitFor(/users listening/);
    const { users } = await allUsers(url);
    // The one sign-up in flight when the disk filled was never acknowledged: it may or may not be there.
    expect(users.map((user) => user.email).slice(0, acknowledged.length)).toEqual(acknowledged);
    expect(users.length).toBeLessThanOrEqual(acknowledged.length + 1);
  });

  it('refuses a second writer on the same DATA_DIR at once, naming the lock and its holder', async () => {
    const first = spawn('system/start-subgraph.ts users', { USERS_PORT: String(await freePort()) });
    await first.waitFor(/users listening/);
    const second = spawn('system/start-subgraph.ts users', { USERS_PORT: String(await freePort()) });
    expect(await second.exited()).toBe(1);
    expect(second.output()).toContain(`${join(dataDir, 'users', 'LOCK')} is held by process ${first.child.pid}`);
    expect(first.child.exitCode).toBeNull();
  });

  it('restarts at once after kill -9, ten times in a row, while the killed writer is still an unreaped zombie', async () => {
    const port = String(await freePort());
    const url = `http://127.0.0.1:${port}/graphql`;
    const emails: string[] = [];
    for (let round = 0; round < 10; round++) {
      // Started right after the previous writer was killed, while that one is still a zombie.
      const writer = spawnService('system/start-subgraph.ts users', { DATA_DIR: dataDir, SUBGRAPH_SECRET: TEST_SUBGRAPH_SECRET, USERS_PORT: port }, { unreapedChild: true });
      processes.push(writer);
      const [, pid] = await writer.waitFor(/service pid (\d+)/);
      await writer.waitFor(/users listening/);
      emails.push(`restart${round}@example.com`);
      expect((await gql(url, ADD_USER, { input: { name: `Restart ${round}`, email: emails.at(-1) } }, operatorHeaders())).data.addUser.errors).toEqual([]);
      process.kill(Number(pid), 'SIGKILL');
      await eventually(async () => processState(Number(pid)), (state) => state === 'Z');
    }
    const last = spawn('system/start-subgraph.ts users', { USERS_PORT: port });
    await last.waitFor(/users listening/);
    expect((await allUsers(url)).users.map((user) => user.email)).toEqual(emails);
  }, 120_000);

  it('cuts off a torn last record at start with a warning naming the file and offset, and keeps every complete record', async () => {
    const port = String(await freePort());
    const url = `http://127.0.0.1:${port}/graphql`;
    const users = spawn('system/start-subgraph.ts users', { USERS_PORT: port });
    await users.waitFor(/users listening/);
    for (let i = 1; i <= 5; i++) await gql(url, ADD_USER, { input: { name: `User ${i}`, email: `torn${i}@example.com` } }, operatorHeaders());
    expect(await users.stop('SIGTERM')).toBe(0);

    // A power cut in the middle of the last append: its line is half written.
    const segment = (await listSegments(join(dataDir, 'users'))).at(-1)!.file;
    const text = await readFile(segment, 'utf8');
    const lastLineStart = text.lastIndexOf('\n', text.length - 2) + 1;
    await truncate(segment, lastLineStart + 40);

    const restarted = spawn('system/start-subgraph.ts users', { USERS_PORT: port });
    await restarted.waitFor(/users listening/);
    expect(restarted.output()).toContain(`cut off a torn last record at byte ${lastLineStart} of ${segment}`);
    const { users: left } = await allUsers(url);
    expect(left.map((user) => user.email)).toEqual(['torn1@example.com', 'torn2@example.com', 'torn3@example.com', 'torn4@example.com']);
  });

  it('delivers exactly one welcome email to each of 40 users across an SMTP outage and a kill -9 of the whole system', async () => {
    const smtp = await startSmtpServer();
    try {
      smtp.setMode({ code: 421, message: 'Service not available, try later' });
      const { env, gatewayUrl } = await wholeSystem(smtp.url);
      const first = spawn('system/start-all.ts', env);
      await first.waitFor(/Apollo Sandbox/);
      const emails = Array.from({ length: 40 }, (_, i) => `outage${i}@example.com`);
      await Promise.all(
        emails.map(async (email, i) => {
          const response = await gql(gatewayUrl, ADD_USER, { input: { name: `Outage ${i}`, email } });
          expect(response.data.addUser.errors).toEqual([]);
        }),
      );
      // 421 is the server's trouble: the worker pauses and probes one delivery at a time, so a few refusals mean it is in the outage.
      await eventually(async () => smtp.refused(), (refused) => refused >= 3).catch((error) => {
        throw new Error(`${error}\n${first.output()}`);
      });
      expect(await first.stop('SIGKILL')).toBe('SIGKILL');

      const second = spawn('system/start-all.ts', env);
      await second.waitFor(/Apollo Sandbox/);
      smtp.setMode('accept');
      await smtp.waitForMessages(emails.length, 30_000).catch((error) => {
        throw new Error(`${error}\n${second.output()}`);
      });
      const delivered = await eventually(
        async () => gql(gatewayUrl, `{ users(first: 100) { edges { node { email welcomeEmail { status } } } } }`, {}, await operatorTokenFor(dataDir)),
        (response) => response.data?.users?.edges?.every((edge: any) => edge.node.welcomeEmail?.status === 'SENT'),
        30_000,
      );
      expect(delivered.data.users.edges).toHaveLength(emails.length);
      const received = smtp.messages.map((mail) => (Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address);
      expect(received.sort()).toEqual([...emails].sort());
      expect(await second.stop('SIGTERM')).toBe(0);
    } finally {
      await smtp.close();
    }
  }, 60_000);

  it('resends with the same Message-ID after a crash inside the send window, the one window where SMTP can duplicate', async () => {
    const smtp = await startSmtpServer();
    try {
      const { env, gatewayUrl } = await wholeSystem(smtp.url);
      smtp.setMode('stall');
      const first = spawn('system/start-all.ts', env);
      await first.waitFor(/Apollo Sandbox/);
      await gql(gatewayUrl, ADD_USER, { input: { name: 'Window', email: 'window@example.com' } });
      await smtp.waitForMessages(1);
      expect(await first.stop('SIGKILL')).toBe('SIGKILL');

      smtp.setMode('accept');
      const second = spawn('system/start-all.ts', env);
      await second.waitFor(/Apollo Sandbox/);
      const [stalled, resent] = await smtp.waitForMessages(2);
      expect(resent!.messageId).toBe(stalled!.messageId);
      const read = await eventually(
        async () => gql(gatewayUrl, `{ users { edges { node { welcomeEmail { status attempts messageId } } } } }`, {}, await operatorTokenFor(dataDir)),
        (response) => response.data?.users?.edges?.[0]?.node?.welcomeEmail?.status === 'SENT',
      );
      expect(read.data.users.edges[0].node.welcomeEmail).toEqual({ status: 'SENT', attempts: 2, messageId: resent!.messageId });
      expect(await second.stop('SIGTERM')).toBe(0);
    } finally {
      await smtp.close();
    }
  });
});
