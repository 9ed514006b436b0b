import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { simpleParser } from 'mailparser';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { portsEnv, spawnService, type ServiceProcess } from '../helpers/processes';
import { makeDataDir, removeDataDir } from '../helpers/system';

// Only finished messages: the outbox writes `<name>.eml.tmp` and renames it.
const outboxFiles = async (dataDir: string) =>
  (await readdir(join(dataDir, 'outbox')).catch(() => [] as string[])).filter((name) => name.endsWith('.eml'));

describe('the system as its npm scripts run it', () => {
  let dataDir: string;
  const processes: ServiceProcess[] = [];

  beforeEach(async () => {
    dataDir = await makeDataDir();
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((service) => service.stop('SIGKILL')));
    await removeDataDir(dataDir);
  });

  it('npm start: one process prints the Sandbox URL, writes the welcome email to the dev outbox and stops cleanly on Ctrl-C', async () => {
    const system = spawnService('gateway/src/start-all.ts', { DATA_DIR: dataDir, ...(await portsEnv()) });
    processes.push(system);
    const [, sandboxUrl] = await system.waitFor(/Apollo Sandbox: (http:\/\/localhost:\d+\/)/);

    const page = await fetch(sandboxUrl!, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/sandbox/i);

    const signUp = await gql(sandboxUrl!, SIGN_UP, { input: { name: 'Grace <Hopper>', email: 'grace@example.com' } });
    expect(signUp.data.addUser.errors).toEqual([]);
    const [file] = await eventually(() => outboxFiles(dataDir), (files) => files.length === 1);
    expect(system.output()).toContain(join(dataDir, 'outbox', file!));
    const mail = await simpleParser(await readFile(join(dataDir, 'outbox', file!)));
    expect(mail.to).toMatchObject({ value: [{ address: 'grace@example.com', name: 'Grace <Hopper>' }] });
    expect(mail.html).toContain('Grace &lt;Hopper&gt;');

    expect(await system.stop('SIGINT')).toBe(0);
    expect(existsSync(join(dataDir, 'users', 'LOCK'))).toBe(false);
    expect(existsSync(join(dataDir, 'notifications', 'LOCK'))).toBe(false);
  });

  it('start:users, start:notifications and start:gateway: three processes sharing the users log through the file system', async () => {
    const env = { DATA_DIR: dataDir, ...(await portsEnv()) };
    const users = spawnService('subgraphs/users/src/main.ts', env);
    const notifications = spawnService('subgraphs/notifications/src/main.ts', env);
    const gateway = spawnService('gateway/src/main.ts', env);
    processes.push(users, notifications, gateway);
    await Promise.all([users, notifications, gateway].map((service) => service.waitFor(/listening/)));
    const url = `http://localhost:${env.GATEWAY_PORT}/`;

    const signUp = await gql(url, SIGN_UP, { input: { name: 'Linus', email: 'linus@example.com' } });
    const id = signUp.data.addUser.user.id;
    await eventually(() => outboxFiles(dataDir), (files) => files.length === 1);
    const read = await eventually(
      () => gql(url, `query($id: ID!) { user(id: $id) { welcomeEmail { status } } }`, { id }),
      (response) => response.data?.user?.welcomeEmail?.status === 'SENT',
    );
    expect(read.errors).toBeUndefined();

    for (const service of [gateway, notifications, users]) expect(await service.stop('SIGTERM')).toBe(0);
  });
});
