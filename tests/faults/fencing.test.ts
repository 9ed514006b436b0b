import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { gql, SIGN_UP } from '../helpers/graphql';
import { ERROR, WARN, type LogLine } from '../helpers/logs';
import { describeWithPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres';
import { freePort, spawnService, type ServiceProcess } from '../helpers/processes';
import { startTokenIssuer, type TokenIssuer } from '../helpers/system';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

/**
 * Claims are fenced: a notifications replica paused past its lease (SIGSTOP)
 * gives its attempt up instead of sending what another replica took over and
 * sent; and a log (database) out of reach pauses the whole worker, which
 * probes with one delivery at a time, instead of retrying every delivery.
 * Real processes, real PostgreSQL, a real SMTP server.
 */

const WELCOME = /* GraphQL */ `
  query Welcome {
    users(first: 100) {
      edges { node { email welcomeEmail { status attempts } } }
    }
  }
`;

type WelcomeNode = { email: string; welcomeEmail: { status: string; attempts: number } | null };

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `read` until `done` holds, at most `timeoutMs`; the failure names `what` and the last value. */
const waitUntil = async <T>(what: string, read: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs: number): Promise<T> => {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms; last value: ${JSON.stringify(value)}`);
    await sleep(50);
  }
};

const recipientOf = (mail: ParsedMail) => (Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address ?? '';

interface Received {
  readonly messageId: string;
  readonly to: string;
  /** The SMTP user (replica) whose session handed it over. */
  readonly user: string;
  readonly at: number;
}

interface Rcpt {
  readonly user: string;
  readonly to: string;
  readonly at: number;
}

/**
 * What the server answers a RCPT TO: at once (accept), after a delay, or an error reply; `wait`
 * is handed the acceptance to call when the test says.
 */
type RcptAnswer = { readonly delayMs?: number; readonly code?: number; readonly message?: string; readonly wait?: (answer: () => void) => void };

interface RecordingSmtp {
  readonly port: number;
  /** A URL naming `user` as the SMTP user, so the server knows whose session is whose. */
  urlFor(user: string): string;
  readonly received: Received[];
  readonly rcpts: Rcpt[];
  /** Connections opened, with when. */
  readonly sessions: number[];
  close(): Promise<void>;
}

/**
 * A real SMTP server (the smtp-server package) on a free loopback port that
 * accepts any credentials and records, per session, the user they named.
 * `answerRcpt` decides each RCPT TO's reply, given the user and how many RCPTs came before.
 */
const startRecordingSmtp = async (answerRcpt: (user: string, index: number) => RcptAnswer): Promise<RecordingSmtp> => {
  const received: Received[] = [];
  const rcpts: Rcpt[] = [];
  const sessions: number[] = [];
  const userOf = (session: SMTPServerSession) => session.user ?? '(no auth)';
  const server = new SMTPServer({
    authOptional: true,
    allowInsecureAuth: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1_000,
    onConnect(_session, callback) {
      sessions.push(Date.now());
      callback();
    },
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username });
    },
    onRcptTo(address, session, callback) {
      const index = rcpts.length;
      const user = userOf(session);
      rcpts.push({ user, to: address.address, at: Date.now() });
      const { delayMs = 0, code, message = 'try again later', wait } = answerRcpt(user, index);
      const answer = () => (code ? callback(Object.assign(new Error(message), { responseCode: code })) : callback());
      if (wait) wait(answer);
      else if (delayMs > 0) setTimeout(answer, delayMs);
      else answer();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        // A message cut off before its terminating dot never ends here: smtp-server drops it with the connection.
        const user = userOf(session);
        simpleParser(Buffer.concat(chunks)).then((mail) => {
          received.push({ messageId: mail.messageId ?? '', to: recipientOf(mail), user, at: Date.now() });
          callback();
        }, callback);
      });
    },
  });
  // Dropped connections (a client giving an attempt up, a killed replica) are what these tests cause.
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    port,
    urlFor: (user) => `smtp://${user}:pw@127.0.0.1:${port}`,
    received,
    rcpts,
    sessions,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};

/** The JSON log lines (NODE_ENV=test) in `text`. */
const logLines = (text: string): LogLine[] =>
  text
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .flatMap((line) => {
      try {
        return [JSON.parse(line) as LogLine];
      } catch {
        return [];
      }
    });

/** How many lines of each message, most frequent first. */
const countByMessage = (lines: readonly LogLine[]) => {
  const counts = new Map<string, number>();
  for (const line of lines) counts.set(line.msg ?? '', (counts.get(line.msg ?? '') ?? 0) + 1);
  return Object.fromEntries([...counts].sort((a, b) => b[1] - a[1]));
};

describeWithPostgres('fenced delivery claims, with replicas as processes on PostgreSQL', () => {
  let cluster: PostgresCluster;
  let issuer: TokenIssuer;
  let issuerDir: string;
  let processes: ServiceProcess[] = [];
  let smtps: RecordingSmtp[] = [];
  /** Process groups SIGSTOPped and not yet resumed. */
  const stopped = new Set<number>();
  /** Set while PostgreSQL is down: cleanup starts it again. */
  let databaseDown = false;

  const spawn = async (entry: string, env: Record<string, string>, ready: RegExp) => {
    const service = spawnService(entry, { ...issuer.env, ...env });
    processes.push(service);
    await service.waitFor(ready, 60_000);
    return service;
  };

  const startUsers = async (databaseUrl: string) => {
    const port = await freePort();
    await spawn('system/start-subgraph.ts users', { DATABASE_URL: databaseUrl, USERS_PORT: String(port) }, /users listening/);
    return `http://127.0.0.1:${port}/graphql`;
  };

  /** A notifications replica logging JSON lines (NODE_ENV=test), so they can be counted. */
  const startNotifications = async (databaseUrl: string, env: Record<string, string>) => {
    const port = await freePort();
    const service = await spawn(
      'system/start-subgraph.ts notifications',
      { NODE_ENV: 'test', DATABASE_URL: databaseUrl, NOTIFICATIONS_PORT: String(port), ...env },
      /notifications listening/,
    );
    return { service, url: `http://127.0.0.1:${port}` };
  };

  const startGateway = async (usersUrl: string, notificationsUrl: string) => {
    const port = await freePort();
    await spawn(
      'gateway/src/main.ts',
      {
        GATEWAY_PORT: String(port),
        SIGNUP_RATE_PER_IP: '1000000',
        SIGNUP_RATE_GLOBAL: '1000000',
        USERS_URL: usersUrl,
        NOTIFICATIONS_URL: `${notificationsUrl}/graphql`,
      },
      /gateway listening/,
    );
    return `http://127.0.0.1:${port}/`;
  };

  const signUp = async (gatewayUrl: string, email: string) => {
    const answer = await gql(gatewayUrl, SIGN_UP, { input: { name: email.split('@')[0], email } });
    if (answer.data?.addUser?.errors?.length !== 0) throw new Error(`signing up ${email} failed: ${JSON.stringify(answer)}`);
  };

  const welcomeEmails = async (gatewayUrl: string): Promise<WelcomeNode[]> => {
    const answer = await gql(gatewayUrl, WELCOME, {}, issuer.operatorToken);
    if (answer.errors) throw new Error(`reading welcome emails failed: ${JSON.stringify(answer.errors)}`);
    return answer.data.users.edges.map((edge: { node: WelcomeNode }) => edge.node);
  };

  const signal = (service: ServiceProcess, name: 'SIGSTOP' | 'SIGCONT') => {
    const group = service.child.pid!;
    process.kill(-group, name);
    if (name === 'SIGSTOP') stopped.add(group);
    else stopped.delete(group);
  };

  beforeAll(async () => {
    cluster = await startPostgres();
    issuerDir = await makeTempDir('fencing-issuer-');
    issuer = await startTokenIssuer(issuerDir);
  }, 120_000);

  afterEach(async () => {
    for (const group of stopped) {
      try {
        process.kill(-group, 'SIGCONT');
      } catch {
        // gone already
      }
    }
    stopped.clear();
    await Promise.all(processes.map((service) => service.kill()));
    processes = [];
    await Promise.all(smtps.map((smtp) => smtp.close()));
    smtps = [];
    if (databaseDown) {
      await cluster.start();
      databaseDown = false;
    }
  });

  afterAll(async () => {
    await cluster?.stop();
    await issuer?.close();
    if (issuerDir) await removeTempDir(issuerDir);
  });

  it('sends once when the replica holding the claim is paused past its lease (SIGSTOP) and resumed', async () => {
    const started = Date.now();
    const databaseUrl = await cluster.createDatabase('fencing_sigstop');
    // The first RCPT TO (the first attempt's) is answered only after 8 s; every other at once.
    const smtp = await startRecordingSmtp((_user, index) => (index === 0 ? { delayMs: 8_000 } : {}));
    smtps.push(smtp);

    const usersUrl = await startUsers(databaseUrl);
    const replicaEnv = (id: string) => ({ REPLICA_ID: id, SMTP_URL: smtp.urlFor(id), DELIVERY_LEASE_MS: '5000', DELIVERY_SCAN_MS: '500' });
    const [a, b] = await Promise.all([startNotifications(databaseUrl, replicaEnv('a')), startNotifications(databaseUrl, replicaEnv('b'))]);
    const replicas = { a: a.service, b: b.service } as Record<string, ServiceProcess>;
    const gatewayUrl = await startGateway(usersUrl, a.url);

    await signUp(gatewayUrl, 'fenced@example.com');
    const [first] = await waitUntil('the first RCPT TO', () => smtp.rcpts, (rcpts) => rcpts.length >= 1, 20_000);
    const holder = replicas[first!.user];
    if (!holder) throw new Error(`the first RCPT came from an unknown SMTP user ${first!.user}`);
    const otherUser = first!.user === 'a' ? 'b' : 'a';
    signal(holder, 'SIGSTOP');
    const stoppedAt = Date.now();

    // The other replica watches the claim outlive its lease (5 s + 250 ms), takes it over and sends.
    await waitUntil(`the email sent by replica ${otherUser} while ${first!.user} is stopped`, () => smtp.received, (mails) => mails.length >= 1, 20_000);
    const takenOverAfterMs = smtp.received[0]!.at - stoppedAt;
    signal(holder, 'SIGCONT');
    const resumedAt = Date.now();

    // Resumed, the holder finds its lease gone (its renewal timer, overdue, fires first) or its claim taken over
    // (the check after 354 to DATA) and gives the attempt up; or it sends a second copy.
    const outcome = await waitUntil(
      `replica ${first!.user} giving its attempt up after SIGCONT (or sending a second copy)`,
      () => ({ givenUp: /attempt given up before the message was handed over/.test(holder.output()), received: smtp.received.length }),
      ({ givenUp, received }) => givenUp || received > 1,
      15_000,
    );
    const outcomeAfterMs = Date.now() - resumedAt;
    await sleep(1_500);
    const received = smtp.received.map(({ messageId, to, user }) => ({ messageId, to, user }));

    const [node] = await waitUntil(
      'the welcome email read through the gateway as SENT',
      () => welcomeEmails(gatewayUrl),
      (nodes) => nodes.length === 1 && nodes[0]!.welcomeEmail?.status === 'SENT',
      15_000,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}; received: ${JSON.stringify(received)}`);
    });
    const givenUpLine = logLines(holder.output()).find((line) => line.msg === 'attempt given up before the message was handed over');
    console.log(
      `SIGSTOP: holder ${first!.user}, the other sent ${takenOverAfterMs} ms after the stop; ` +
        `emails received ${received.length} (${received.map((mail) => `${mail.user}:${mail.messageId}`).join(', ')}); ` +
        `status ${node!.welcomeEmail!.status}, attempts ${node!.welcomeEmail!.attempts}; ` +
        `holder gave up: ${outcome.givenUp} (${givenUpLine?.reason ?? '-'}), seen ${outcomeAfterMs} ms after SIGCONT; test took ${Date.now() - started} ms`,
    );

    expect(received).toEqual([{ messageId: expect.stringMatching(/^<.+>$/), to: 'fenced@example.com', user: otherUser }]);
    expect(node).toEqual({ email: 'fenced@example.com', welcomeEmail: { status: 'SENT', attempts: 2 } });
    expect(outcome.givenUp).toBe(true);
  }, 90_000);

  it('backs off as a whole while the database is down, and sends the backlog once it is back', async () => {
    const started = Date.now();
    const USERS = 20;
    const OUTAGE_MS = 30_000;
    const RETRY = { baseMs: 500, maxMs: 8_000 };
    const databaseUrl = await cluster.createDatabase('fencing_outage');
    // RCPT TO is deferred (451) at first, so the backlog stays QUEUED; then held unanswered, so that the
    // conversations in flight when the database goes away reach DATA only after it has gone; then accepted.
    let mode: 'defer' | 'hold' | 'accept' = 'defer';
    const held: (() => void)[] = [];
    const smtp = await startRecordingSmtp(() =>
      mode === 'defer' ? { code: 451, message: 'mailbox busy, try again later' } : mode === 'hold' ? { wait: (answer) => held.push(answer) } : {},
    );
    smtps.push(smtp);

    const usersUrl = await startUsers(databaseUrl);
    const notifications = await startNotifications(databaseUrl, {
      REPLICA_ID: 'solo',
      SMTP_URL: smtp.urlFor('solo'),
      DELIVERY_LEASE_MS: '5000',
      DELIVERY_SCAN_MS: '500',
      SMTP_RETRY_BASE_MS: String(RETRY.baseMs),
      SMTP_RETRY_MAX_MS: String(RETRY.maxMs),
    });
    const replica = notifications.service;
    const gatewayUrl = await startGateway(usersUrl, notifications.url);

    const emails = Array.from({ length: USERS }, (_, i) => `backlog${i}@example.com`);
    await Promise.all(emails.map((email) => signUp(gatewayUrl, email)));
    // Each delivery has been tried, and deferred, at least once.
    await waitUntil(
      'a deferred RCPT for every user',
      () => new Set(smtp.rcpts.map((rcpt) => rcpt.to)).size,
      (count) => count === USERS,
      30_000,
    );
    expect(smtp.received).toHaveLength(0);
    mode = 'hold';
    await waitUntil('two conversations held at RCPT TO', () => held.length, (count) => count >= 2, 20_000);

    const outageFrom = replica.output().length;
    databaseDown = true;
    await cluster.kill();
    const downAt = Date.now();
    mode = 'accept';
    // The held conversations go on to DATA with the database gone: their claims cannot be confirmed.
    await sleep(1_000);
    const heldAcrossOutage = held.length;
    for (const answer of held.splice(0)) answer();
    // Midway, the replica says on /metrics that sending is paused because of the log.
    await sleep(OUTAGE_MS / 3);
    const metrics = await fetch(`${notifications.url}/metrics`, { signal: AbortSignal.timeout(10_000) })
      .then((response) => response.text())
      .catch((error: Error) => `(scrape failed: ${error.message})`);
    const pausedGauge = /^email_sending_paused\{cause="log"[^}]*\} (\d+)$/m.exec(metrics)?.[1];
    await sleep(Math.max(0, OUTAGE_MS - (Date.now() - downAt)));
    const outageTo = replica.output().length;
    // From a second after the database is gone: what was in flight at the kill has finished by then.
    const quietFrom = downAt + 1_000;
    const rcptsDuring = smtp.rcpts.filter((rcpt) => rcpt.at >= quietFrom).length;
    const sessionsDuring = smtp.sessions.filter((at) => at >= quietFrom).length;
    const receivedDuring = smtp.received.length;
    await cluster.start();
    databaseDown = false;
    const upAt = Date.now();

    await waitUntil('an email for every user after the database is back', () => smtp.received.length, (count) => count >= USERS, 40_000).catch((error: Error) => {
      const lines = logLines(replica.output().slice(outageFrom));
      throw new Error(
        `${error.message}; SMTP RCPTs since the restart: ${smtp.rcpts.filter((rcpt) => rcpt.at >= upAt).length}; ` +
          `replica lines since the outage by message: ${JSON.stringify(countByMessage(lines), null, 2)}; last lines:\n${lines.slice(-15).map((line) => JSON.stringify(line)).join('\n')}`,
      );
    });
    const sentAfterMs = Math.max(...smtp.received.map((mail) => mail.at)) - upAt;
    await sleep(1_000);
    const nodes = await waitUntil(
      'every welcome email read through the gateway as SENT',
      () => welcomeEmails(gatewayUrl),
      (found) => found.length === USERS && found.every((node) => node.welcomeEmail?.status === 'SENT'),
      15_000,
    );

    const duringOutage = logLines(replica.output().slice(outageFrom, outageTo));
    const afterOutage = logLines(replica.output().slice(outageFrom));
    const recoveredAt = afterOutage.findIndex((line) => line.msg === 'sending again');
    const untilRecovered = recoveredAt < 0 ? afterOutage : afterOutage.slice(0, recoveredAt + 1);
    const loud = (lines: readonly LogLine[]) => lines.filter((line) => line.level >= WARN);
    const aboutDeliveries = (lines: readonly LogLine[]) => lines.filter((line) => line.deliveryId !== undefined);
    const aboutThePause = (lines: readonly LogLine[]) => lines.filter((line) => /sending paused/.test(line.msg ?? ''));
    const recovered = afterOutage[recoveredAt] as (LogLine & { probes?: number; pausedForMs?: number; cause?: string }) | undefined;
    // The most probes the policy allows: pauses at the shortest jittered delays (half the capped backoff)
    // fitting in the pause, plus one for each attempt in flight when the log went away (4 at once).
    const pausedForMs = recovered?.pausedForMs ?? Date.now() - downAt;
    let probeBound = 4;
    for (let streak = 1, elapsed = 0; ; streak++) {
      elapsed += Math.min(RETRY.maxMs, RETRY.baseMs * 2 ** (streak - 1)) / 2;
      if (elapsed > pausedForMs) break;
      probeBound++;
    }
    const measured = {
      outageMs: upAt - downAt,
      linesDuringOutage: duringOutage.length,
      errorWarnDuringOutage: loud(duringOutage).length,
      errorLinesDuringOutage: duringOutage.filter((line) => line.level >= ERROR).length,
      pauseLinesUntilRecovered: aboutThePause(untilRecovered).length,
      deliveryLinesUntilRecovered: aboutDeliveries(untilRecovered).length,
      deliveryLinesByMessage: countByMessage(aboutDeliveries(untilRecovered)),
      givenUpBecause: countByMessage(
        untilRecovered.filter((line) => line.reason !== undefined).map((line) => ({ ...line, msg: String(line.reason).replace(/:.*/, '') })),
      ),
      errorWarnUntilRecovered: loud(untilRecovered).length,
      errorWarnByMessage: countByMessage(loud(untilRecovered)),
      sendingAgain: recovered && {
        cause: recovered.cause,
        probes: recovered.probes,
        pausedForMs: recovered.pausedForMs,
        msAfterRestart: Number(recovered.time) - upAt,
      },
      probeBound,
      pausedGaugeMidway: pausedGauge ?? metrics.split('\n').filter((line) => /paused|scrape/.test(line)),
      smtpDuringOutage: { sessions: sessionsDuring, rcpts: rcptsDuring, messages: receivedDuring, heldAtRcptAcrossTheStart: heldAcrossOutage },
      backlogSentWithinMsOfRestart: sentAfterMs,
      testMs: Date.now() - started,
    };
    console.log(`database outage: ${JSON.stringify(measured, null, 2)}`);
    const check = (ok: boolean, what: string) => {
      if (!ok) throw new Error(`${what}; measured: ${JSON.stringify(measured, null, 2)}`);
    };

    // Exactly one email per user, by recipient and by Message-ID, each delivery SENT.
    expect(smtp.received.map((mail) => mail.to).sort()).toEqual([...emails].sort());
    expect(new Set(smtp.received.map((mail) => mail.messageId)).size).toBe(USERS);
    expect(nodes.map((node) => node.email).sort()).toEqual([...emails].sort());

    // Bounded work while the log was out of reach: not a line per delivery per retry.
    // A line or two about the pause, and at most one line of each attempt in flight (4 at once) when the database went away.
    check(measured.pauseLinesUntilRecovered <= 2, `at most 2 lines about the pause until sending again, not ${measured.pauseLinesUntilRecovered}`);
    check(measured.deliveryLinesUntilRecovered <= 4, `at most 4 lines naming a delivery until sending again, not ${measured.deliveryLinesUntilRecovered}`);
    check(measured.errorWarnUntilRecovered <= 30, `at most 30 error and warn lines until sending again, not ${measured.errorWarnUntilRecovered}`);
    check(recovered !== undefined, 'a "sending again" line once the database is back');
    check(recovered!.cause === 'log', `the pause named the log as its cause, not ${recovered!.cause}`);
    check(recovered!.probes! <= probeBound, `at most ${probeBound} probes in ${pausedForMs} ms, not ${recovered!.probes}`);
    check(pausedGauge === '1', `email_sending_paused{cause="log"} 1 on /metrics midway through the outage, not ${pausedGauge}`);
    check(rcptsDuring === 0, `no RCPT TO while the log was out of reach (a claim comes first), not ${rcptsDuring}`);
    check(receivedDuring === 0, `no message handed over while the log was out of reach (the claim is confirmed first), not ${receivedDuring}`);
  }, 90_000);
});
