import type { ParsedMail } from 'mailparser';
import { Client } from 'pg';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { describeWithPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres';
import { freePort, spawnService, type ServiceProcess } from '../helpers/processes';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';
import { FAST_RETRY, startTokenIssuer, type TokenIssuer } from '../helpers/system';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

// Two users replicas, two notifications replicas and two gateways on one
// PostgreSQL, each gateway routed to its own pair of subgraph replicas.

const PAGE = /* GraphQL */ `
  query Page($after: String) {
    users(first: 100, after: $after) {
      edges { node { id email } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;
const WELCOME_PAGE = /* GraphQL */ `
  query Welcome($after: String) {
    users(first: 100, after: $after) {
      edges { node { email welcomeEmail { status } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

/** Claims last this long in these tests: a takeover after a kill -9 comes within seconds. */
const LEASE_MS = '8000';

type Node = { id: string; email: string; welcomeEmail?: { status: string } | null };

/** Every user whose email starts with `prefix`, paged through `gatewayUrl` as a client would. */
let issuer: TokenIssuer;

const usersThrough = async (gatewayUrl: string, prefix: string, query = PAGE): Promise<Node[]> => {
  const found: Node[] = [];
  let after: string | null = null;
  for (;;) {
    const page: any = await gql(gatewayUrl, query, { after }, issuer.operatorToken);
    if (page.errors) throw new Error(`paging through ${gatewayUrl} failed: ${JSON.stringify(page.errors)}`);
    found.push(...page.data.users.edges.map((edge: { node: Node }) => edge.node).filter((node: Node) => node.email.startsWith(prefix)));
    if (!page.data.users.pageInfo.hasNextPage) return found;
    after = page.data.users.pageInfo.endCursor;
  }
};

/**
 * The acknowledged sign-ups not stored under their id as read through
 * `gatewayUrl`, once the users replica behind it has had time to follow the
 * stream (replicas lag by up to a few hundred milliseconds): empty when none
 * is lost.
 */
const lostThrough = async (gatewayUrl: string, prefix: string, acknowledged: ReadonlyMap<string, string>): Promise<[string, string][]> => {
  const lost = async () => {
    const stored = new Map((await usersThrough(gatewayUrl, prefix)).map((node) => [node.email, node.id]));
    return [...acknowledged].filter(([email, id]) => stored.get(email) !== id);
  };
  return eventually(lost, (missing) => missing.length === 0, 10_000).catch(lost);
};

/** The replica id a notifications process logged at start. */
const replicaIdOf = (service: ServiceProcess) => /replica: "([^"]+)"/.exec(service.output())?.[1];

/** The replica named by the newest claim recorded in the notifications stream. */
const newestClaimer = async (databaseUrl: string): Promise<string | undefined> => {
  const client = new Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ record: string }>(
      `SELECT record FROM log_records WHERE stream = 'notifications' AND record LIKE '%"by":"%' ORDER BY version DESC LIMIT 1`,
    );
    return rows[0] && /"by":"([^"]+)"/.exec(rows[0].record)?.[1];
  } finally {
    await client.end();
  }
};

const recipient = (mail: ParsedMail) => (Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address ?? '';

describeWithPostgres('replicas of every service on one PostgreSQL', () => {
  let cluster: PostgresCluster;
  let smtp: TestSmtpServer;
  let databaseUrl: string;
  const processes: ServiceProcess[] = [];
  const ports = { users: [0, 0], notifications: [0, 0], gateways: [0, 0] };
  const users: ServiceProcess[] = [];
  const notifications: ServiceProcess[] = [];
  const gatewayUrls: string[] = [];

  let issuerDir: string;
  const spawn = (entry: string, env: Record<string, string>, ready: RegExp) => {
    const service = spawnService(entry, { ...issuer.env, ...env });
    processes.push(service);
    return service.waitFor(ready, 60_000).then(() => service);
  };
  const startUsers = async (i: number) => {
    users[i] = await spawn('system/start-subgraph.ts users', { DATABASE_URL: databaseUrl, USERS_PORT: String(ports.users[i]) }, /users listening/);
  };
  const startNotifications = async (i: number) => {
    notifications[i] = await spawn(
      'system/start-subgraph.ts notifications',
      {
        DATABASE_URL: databaseUrl,
        NOTIFICATIONS_PORT: String(ports.notifications[i]),
        SMTP_URL: smtp.url,
        ...FAST_RETRY,
        DELIVERY_LEASE_MS: LEASE_MS,
        DELIVERY_SCAN_MS: '500',
      },
      /notifications listening/,
    );
  };
  const startGateway = (i: number) =>
    spawn(
      'gateway/src/main.ts',
      {
        DATABASE_URL: databaseUrl,
        // Attempts count, and a client retries at once through a gateway whose users replica is dead.
        SIGNUP_RATE_PER_IP: '1000000',
        SIGNUP_RATE_GLOBAL: '1000000',
        GATEWAY_PORT: String(ports.gateways[i]),
        USERS_URL: `http://127.0.0.1:${ports.users[i]}/graphql`,
        NOTIFICATIONS_URL: `http://127.0.0.1:${ports.notifications[i]}/graphql`,
      },
      /gateway listening/,
    );

  /** The messages that arrived for addresses starting with `prefix`. */
  const mailsFor = (prefix: string) => smtp.messages.filter((mail) => recipient(mail).startsWith(prefix));

  /**
   * Waits until every user with `prefix` has had a welcome email SENT (so none
   * can still go out), then returns the messages that arrived for them.
   */
  const settledMails = async (prefix: string, gatewayUrl: string, expected: number) => {
    await eventually(async () => mailsFor(prefix).length, (count) => count >= expected, 60_000);
    await eventually(
      () => usersThrough(gatewayUrl, prefix, WELCOME_PAGE),
      (nodes) => nodes.length === expected && nodes.every((node) => node.welcomeEmail?.status === 'SENT'),
      30_000,
    );
    return mailsFor(prefix);
  };

  /**
   * 32 clients signing up through both gateways in turn until `enough` says
   * stop; returns the acknowledged sign-ups, email -> id.
   */
  const signUpUntil = async (prefix: string, enough: (acknowledged: number) => boolean, clients = 32) => {
    const acknowledged = new Map<string, string>();
    let next = 0;
    await Promise.all(
      Array.from({ length: clients }, async () => {
        while (!enough(acknowledged.size)) {
          const n = next++;
          const email = `${prefix}${n}@example.com`;
          const response = await gql(gatewayUrls[n % 2]!, SIGN_UP, { input: { name: `Replica ${n}`, email } }).catch(() => undefined);
          const user = response?.data?.addUser?.user;
          if (user) acknowledged.set(email, user.id);
        }
      }),
    );
    return acknowledged;
  };

  beforeAll(async () => {
    [cluster, smtp] = await Promise.all([startPostgres(), startSmtpServer()]);
    issuerDir = await makeTempDir('signup-issuer-');
    issuer = await startTokenIssuer(issuerDir);
    databaseUrl = await cluster.createDatabase('replicas');
    for (const list of Object.values(ports)) for (let i = 0; i < list.length; i++) list[i] = await freePort();
    // The first of each starts alone, so that creating the tables is not what the test races.
    await startUsers(0);
    await Promise.all([startUsers(1), startNotifications(0), startNotifications(1)]);
    gatewayUrls.push(...(await Promise.all([0, 1].map(startGateway))).map((_, i) => `http://127.0.0.1:${ports.gateways[i]}/`));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(processes.map((service) => service.kill()));
    await smtp?.close();
    await cluster?.stop();
    await issuer?.close();
    if (issuerDir) await removeTempDir(issuerDir);
  });

  it('takes 500 sign-ups from 32 clients over both gateways: every user readable through both, exactly one welcome email each', async () => {
    const acknowledged = await signUpUntil('many', (count) => count >= 500);
    expect(acknowledged.size).toBeGreaterThanOrEqual(500);

    for (const url of gatewayUrls) expect(await lostThrough(url, 'many', acknowledged)).toEqual([]);
    const through = await Promise.all(gatewayUrls.map((url) => usersThrough(url, 'many')));
    const mails = await settledMails('many', gatewayUrls[0]!, acknowledged.size);

    for (const nodes of through) expect(new Map(nodes.map((node) => [node.email, node.id]))).toEqual(acknowledged);
    expect(mails).toHaveLength(acknowledged.size);
    expect(new Set(mails.map(recipient))).toEqual(new Set(acknowledged.keys()));
    expect(new Set(mails.map((mail) => mail.messageId)).size).toBe(acknowledged.size);
  }, 120_000);

  it('gives an email signed up through both gateways at the same moment to exactly one, 50 times', async () => {
    for (let i = 0; i < 50; i++) {
      const input = { name: `Twin ${i}`, email: `twin${i}@example.com` };
      const outcomes = await Promise.all(gatewayUrls.map((url) => gql(url, SIGN_UP, { input })));
      const codes = outcomes.map((outcome) => outcome.data.addUser.errors.map((error: { code: string }) => error.code).join());
      expect(codes.sort()).toEqual(['', 'EMAIL_TAKEN']);
    }
  }, 60_000);

  it('sends exactly one welcome email each when a notifications replica holding deliveries is killed -9 between attempts', async () => {
    // SMTP refuses every message for now (421): no message is accepted, so the kill falls outside the send window.
    smtp.setMode({ code: 421, message: 'Service not available, try later' });
    const refusedBefore = smtp.refused();
    const acknowledged = await signUpUntil('nkill', (count) => count >= 40, 8);
    // 421 is the server's trouble: each replica pauses and probes one delivery at a time, holding each probed one.
    await eventually(async () => smtp.refused() - refusedBefore, (refused) => refused >= 4, 30_000);
    // Wait until the replica to be killed holds deliveries of its own: it has had an attempt refused.
    await eventually(async () => notifications[0]!.output(), (output) => /sending paused/.test(output), 30_000);

    expect(await notifications[0]!.kill()).toBe('SIGKILL');
    smtp.setMode('accept');
    const mails = await settledMails('nkill', gatewayUrls[1]!, acknowledged.size);

    expect(mails).toHaveLength(acknowledged.size);
    expect(mails.map(recipient).sort()).toEqual([...acknowledged.keys()].sort());
    await startNotifications(0);
  }, 90_000);

  it('resends with the same Message-ID when the replica that was sending dies inside the send window, once its lease ends', async () => {
    // The SMTP server takes the message and never answers: the sender cannot know it was delivered.
    smtp.setMode('stall');
    const signUp = await gql(gatewayUrls[0]!, SIGN_UP, { input: { name: 'Window', email: 'window@example.com' } });
    expect(signUp.data.addUser.errors).toEqual([]);
    await eventually(async () => mailsFor('window').length, (count) => count === 1, 30_000);
    const claimer = await newestClaimer(databaseUrl);
    const killed = notifications.findIndex((service) => replicaIdOf(service) === claimer);
    expect(killed).toBeGreaterThanOrEqual(0);
    smtp.setMode('accept');
    expect(await notifications[killed]!.kill()).toBe('SIGKILL');
    const mails = await settledMails('window', gatewayUrls[1 - killed]!, 1);

    expect(mails).toHaveLength(2);
    expect(mails[1]!.messageId).toBe(mails[0]!.messageId);
    await startNotifications(killed);
  }, 60_000);

  it('loses no acknowledged sign-up when a users replica is killed -9 under load, and sends each user one welcome email', async () => {
    let killed = false;
    let afterKill = 0;
    const killing = signUpUntil('ukill', (count) => {
      if (count >= 100 && !killed) {
        killed = true;
        afterKill = count;
        void users[0]!.kill();
      }
      return killed && count >= afterKill + 100;
    });
    const acknowledged = await killing;
    expect(await users[0]!.exited()).toBe('SIGKILL');

    expect(await lostThrough(gatewayUrls[1]!, 'ukill', acknowledged)).toEqual([]);
    const survivors = new Map((await usersThrough(gatewayUrls[1]!, 'ukill')).map((node) => [node.email, node.id]));

    await startUsers(0);
    const restarted = new Map((await usersThrough(gatewayUrls[0]!, 'ukill')).map((node) => [node.email, node.id]));
    expect(restarted).toEqual(survivors);
    // A sign-up in flight at the kill may have landed unacknowledged: it is a user too, and gets its email.
    const mails = await settledMails('ukill', gatewayUrls[1]!, survivors.size);
    expect(mails.map(recipient).sort()).toEqual([...survivors.keys()].sort());
  }, 90_000);

  it('loses no acknowledged sign-up when PostgreSQL crashes mid-run, answers UNAVAILABLE while it is down, and goes on by itself', async () => {
    let crashed: Promise<void> | undefined;
    let during: Awaited<ReturnType<typeof gql>>[] = [];
    let afterRestart = Infinity;
    let latest = 0;
    const acknowledged = await signUpUntil(
      'pgcrash',
      (count) => {
        latest = count;
        if (count >= 50 && !crashed) {
          crashed = (async () => {
            await cluster.kill();
            try {
              during = await Promise.all(
                gatewayUrls.map((url, i) => gql(url, SIGN_UP, { input: { name: 'During', email: `during${i}@example.com` } })),
              );
            } finally {
              await cluster.start();
            }
          })().finally(() => {
            afterRestart = latest + 50;
          });
        }
        return count >= afterRestart;
      },
      8,
    );
    await crashed;

    expect(acknowledged.size).toBeGreaterThanOrEqual(100);
    expect(during).toHaveLength(2);
    for (const response of during) expect(response.errors?.map((error) => error.extensions?.code)).toEqual(['UNAVAILABLE']);
    for (const url of gatewayUrls) expect(await lostThrough(url, 'pgcrash', acknowledged)).toEqual([]);
    const stored = await usersThrough(gatewayUrls[0]!, 'pgcrash');
    const mails = await settledMails('pgcrash', gatewayUrls[0]!, stored.length);
    expect(mails.map(recipient).sort()).toEqual(stored.map((node) => node.email).sort());
  }, 90_000);
});
