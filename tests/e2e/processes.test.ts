import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { simpleParser } from 'mailparser';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { isPortFree, portsEnv, spawnScript, subgraphUrlsEnv, type ServiceProcess } from '../helpers/processes';
import { startTokenIssuer } from '../helpers/system';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';
import { ROOT } from '../helpers/paths';

/** What `npm run token -- <args>` prints on stdout, as a developer runs it. */
const npmToken = async (dataDir: string, args: string[]): Promise<string> => {
  const { stdout } = await promisify(execFile)('npm', ['run', '--silent', 'token', '--', ...args], { cwd: ROOT, env: { ...process.env, DATA_DIR: dataDir } });
  return stdout.trim();
};

/** The port each service of `npm start` logged it listens on. */
const listeningPorts = (output: string) =>
  Object.fromEntries([...output.matchAll(/(\w+) listening\s+service: "\w+"\s+url: "http:\/\/[^:]+:(\d+)\//g)].map(([, name, port]) => [name!, Number(port)]));

// Only finished messages: the outbox writes `<name>.eml.tmp` and renames it.
const outboxFiles = async (dataDir: string) =>
  (await readdir(join(dataDir, 'outbox')).catch(() => [] as string[])).filter((name) => name.endsWith('.eml'));

describe('the system as its npm scripts run it', () => {
  let dataDir: string;
  const processes: ServiceProcess[] = [];
  const issuers: { close(): Promise<void> }[] = [];

  beforeEach(async () => {
    dataDir = await makeTempDir('signup-e2e-');
  });

  afterEach(async () => {
    await Promise.all(processes.splice(0).map((service) => service.kill()));
    await Promise.all(issuers.splice(0).map((issuer) => issuer.close()));
    await removeTempDir(dataDir);
  });

  it('npm start with only its ports set (0: free ones): the gateway calls the subgraphs where they listen, and SIGTERM to npm alone stops all three cleanly', async () => {
    const system = spawnScript('start', { DATA_DIR: dataDir, GATEWAY_PORT: '0', USERS_PORT: '0', NOTIFICATIONS_PORT: '0', DEV_ISSUER_PORT: '0' });
    processes.push(system);
    const [, sandboxUrl] = await system.waitFor(/Apollo Sandbox: (http:\/\/localhost:\d+\/)/);
    const ports = listeningPorts(system.output());

    const page = await fetch(sandboxUrl!, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/sandbox/i);
    const [, graphiqlUrl] = await system.waitFor(/GraphiQL, offline: (http:\/\/localhost:\d+\/graphiql\/)/);
    expect(new URL(graphiqlUrl!).origin).toBe(new URL(sandboxUrl!).origin);
    expect(await (await fetch(graphiqlUrl!)).text()).toMatch(/<title>GraphiQL/);

    const signUp = await gql(sandboxUrl!, SIGN_UP, { input: { name: 'Grace <Hopper>', email: 'grace@example.com' } });
    expect(signUp.data.addUser.errors).toEqual([]);
    const [file] = await eventually(() => outboxFiles(dataDir), (files) => files.length === 1);
    // The file is renamed into place just before the line naming it is logged: wait for the line, not only the file.
    const logged = join(dataDir, 'outbox', file!);
    await system.waitFor(new RegExp(logged.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
    const mail = await simpleParser(await readFile(join(dataDir, 'outbox', file!)));
    expect(mail.to).toMatchObject({ value: [{ address: 'grace@example.com', name: 'Grace <Hopper>' }] });
    expect(mail.html).toContain('Grace &lt;Hopper&gt;');
    // As the README says: a token from the development issuer `npm start` runs, for Sandbox's Authorization header.
    const id = signUp.data.addUser.user.id;
    const token = await npmToken(dataDir, ['--sub', id]);
    const read = await eventually(
      () => gql(sandboxUrl!, `{ me { email welcomeEmail { status } } }`, {}, token),
      (response) => response.data?.me?.welcomeEmail?.status === 'SENT',
    );
    expect(read).toEqual({ status: 200, data: { me: { email: 'grace@example.com', welcomeEmail: { status: 'SENT' } } } });
    const anonymous = await gql(sandboxUrl!, `query($id: ID!) { user(id: $id) { name email } }`, { id });
    expect(anonymous.data).toEqual({ user: { name: 'Grace <Hopper>', email: null } });

    expect(await system.stop('SIGTERM')).toBe(0);
    expect(system.output()).toContain('sign-up system: shutdown complete');
    for (const port of Object.values(ports)) expect(await isPortFree(port)).toBe(true);
    expect(existsSync(join(dataDir, 'users', 'LOCK'))).toBe(false);
    expect(existsSync(join(dataDir, 'notifications', 'LOCK'))).toBe(false);
  });

  it('npm run token: names what is missing, and where the development issuer should be', async () => {
    const failure = (args: string[]) => npmToken(dataDir, args).then(() => undefined, (error: { code: number; stderr: string }) => error);
    expect(await failure([])).toMatchObject({ code: 1, stderr: expect.stringContaining('--sub is required') });
    expect(await failure(['--sub', 'u1', '--expires-in', 'soon'])).toMatchObject({ code: 1, stderr: expect.stringContaining('--expires-in must be a whole number') });
    expect(await failure(['--sub', 'u1', '--role', 'admin'])).toMatchObject({ code: 1, stderr: expect.stringMatching(/Unknown option '--role'[\s\S]*Usage: npm run token/) });
    expect(await failure(['--sub', 'u1'])).toMatchObject({ code: 1, stderr: expect.stringContaining(`No development issuer under ${join(dataDir, 'dev-issuer')}: start the system once with \`npm start\``) });
  });

  it('start:subgraph for each subgraph of the list, and start:gateway: processes sharing the users log, each stopped by SIGINT to its npm process alone', async () => {
    const ports = await portsEnv();
    const issuer = await startTokenIssuer(dataDir);
    issuers.push(issuer);
    const env = { DATA_DIR: dataDir, ...ports, ...subgraphUrlsEnv(ports), ...issuer.env };
    const users = spawnScript('start:subgraph -- users', env);
    const notifications = spawnScript('start:subgraph -- notifications', env);
    const gateway = spawnScript('start:gateway', env);
    processes.push(users, notifications, gateway);
    await Promise.all([users, notifications, gateway].map((service) => service.waitFor(/listening/)));
    const url = `http://localhost:${ports.GATEWAY_PORT}/`;

    const signUp = await gql(url, SIGN_UP, { input: { name: 'Linus', email: 'linus@example.com' } });
    const id = signUp.data.addUser.user.id;
    await eventually(() => outboxFiles(dataDir), (files) => files.length === 1);
    const read = await eventually(
      () => gql(url, `query($id: ID!) { user(id: $id) { welcomeEmail { status } } }`, { id }, issuer.operatorToken),
      (response) => response.data?.user?.welcomeEmail?.status === 'SENT',
    );
    expect(read.errors).toBeUndefined();

    const scripts = [
      [gateway, 'gateway', ports.GATEWAY_PORT],
      [notifications, 'notifications', ports.NOTIFICATIONS_PORT!],
      [users, 'users', ports.USERS_PORT!],
    ] as const;
    for (const [service, name, port] of scripts) {
      expect(await service.stop('SIGINT')).toBe(0);
      expect(service.output()).toContain(`${name}: shutdown complete`);
      expect(await isPortFree(Number(port))).toBe(true);
    }
    expect(existsSync(join(dataDir, 'users', 'LOCK'))).toBe(false);
  });
});
