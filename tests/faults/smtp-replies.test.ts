import pino from 'pino';
import { createFileBackend } from '../../lib/log';
import { eventually, gql, SIGN_UP } from '../helpers/graphql';
import { ERROR, recordingLogger, WARN, type LogLine } from '../helpers/logs';
import { startSmtpServer, type SmtpServerOptions, type TestSmtpServer } from '../helpers/smtp';
import { startSystem, type TestSystem } from '../helpers/system';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

const WELCOME = `query($id: ID!) { user(id: $id) { welcomeEmail { status attempts lastError messageId } } }`;
const POISONED = `{ poisonedUserEvents { version index reason at } }`;

/** Longer than several pauses of FAST_RETRY (50 ms doubling to 400 ms, with jitter). */
const SEVERAL_RETRY_PERIODS_MS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const origin = (graphqlUrl: string) => new URL(graphqlUrl).origin;
const metricsOf = async (graphqlUrl: string) => (await fetch(`${origin(graphqlUrl)}/metrics`)).text();
/** The value of a sample on /metrics whose labels include `labels` (`cause="smtp"`), or undefined. */
const sample = (text: string, name: string, labels = ''): number | undefined => {
  for (const line of text.split('\n')) {
    const match = /^(\w+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
    if (match?.[1] === name && (match[2] ?? '').includes(labels)) return Number(match[3]);
  }
  return undefined;
};
const recipientOf = (mail: TestSmtpServer['messages'][number]) => (Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address;

/**
 * How the notifications service reads an SMTP server's replies: the server's
 * (or our account's) fault pauses sending and fails no delivery; a recipient
 * refused for good fails that delivery once; an event of the users' log it
 * cannot read is recorded and skipped.
 */
describe('SMTP replies and poison events, with a real SMTP server', () => {
  let dataDir: string | undefined;
  let smtp: TestSmtpServer | undefined;
  let system: TestSystem | undefined;
  let lines: LogLine[] = [];

  const start = async (options: SmtpServerOptions, smtpUrl: (url: string) => string = (url) => url) => {
    smtp = await startSmtpServer(options);
    dataDir = await makeTempDir('signup-smtp-replies-');
    const recording = recordingLogger('info');
    lines = recording.lines;
    system = await startSystem({ dataDir, smtpUrl: smtpUrl(smtp.url), logger: recording.logger });
    return { smtp, system };
  };

  afterEach(async () => {
    await system?.close();
    await smtp?.close();
    if (dataDir) await removeTempDir(dataDir);
    system = smtp = dataDir = undefined;
  });

  const signUp = async (name: string, email: string): Promise<string> => {
    const response = await gql(system!.gatewayUrl, SIGN_UP, { input: { name, email } });
    expect(response.errors).toBeUndefined();
    expect(response.data.addUser.errors).toEqual([]);
    return response.data.addUser.user.id;
  };

  const welcomeOf = async (id: string) => {
    const response = await gql(system!.gatewayUrl, WELCOME, { id }, system!.operatorToken);
    expect(response.errors).toBeUndefined();
    return response.data.user.welcomeEmail as { status: string; attempts: number; lastError: string | null; messageId: string } | null;
  };

  const waitFor = async <T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> => {
    try {
      return await eventually(read, done, timeoutMs);
    } catch (error) {
      throw new Error(`${what}: ${(error as Error).message}`);
    }
  };

  const messagesOf = (server: TestSmtpServer, count: number, what: string, timeoutMs = 15_000) =>
    server.waitForMessages(count, timeoutMs).catch((error: Error) => {
      throw new Error(`${what}: ${error.message}; recipients so far: ${JSON.stringify(server.messages.map(recipientOf))}`);
    });

  it('a wrong SMTP password holds the backlog, fails none, and sends each email once when the password is right', async () => {
    const { smtp } = await start({ auth: { user: 'welcome', password: 'the-old-password' } }, (url) =>
      url.replace('smtp://', 'smtp://welcome:the-new-password@'),
    );
    const emails = ['ada@example.com', 'grace@example.com', 'edsger@example.com'];
    const ids: string[] = [];
    for (const [i, email] of emails.entries()) ids.push(await signUp(`Wrong password ${i}`, email));

    // Several retry periods with the server answering 535 to every AUTH: every email is held, none FAILED.
    await sleep(SEVERAL_RETRY_PERIODS_MS);
    const held = await Promise.all(ids.map(welcomeOf));
    expect(held.map((welcome) => welcome?.status)).toEqual(['QUEUED', 'QUEUED', 'QUEUED']);
    for (const welcome of held) expect(welcome?.lastError).toMatch(/^535\b/);
    expect(smtp.messages).toHaveLength(0);
    // The worker kept probing (the three first attempts, then one probe at a time), with backoff, not in a hot loop.
    const probes = smtp.authAttempts();
    expect(probes.accepted).toBe(0);
    expect(probes.total).toBeGreaterThanOrEqual(5);
    expect(probes.total).toBeLessThan(60);
    const pausedMetrics = await metricsOf(system!.notificationsUrl);
    expect(sample(pausedMetrics, 'email_sending_paused', 'cause="smtp"')).toBe(1);
    // Said when sending pauses, and at error level once it lasts: not once per probe.
    const pausedLines = lines.filter((line) => line.level >= WARN && /sending paused/.test(line.msg ?? ''));
    expect(pausedLines[0]?.msg).toBe('the SMTP server refuses us or cannot be reached: sending paused, deliveries kept; probing with one at a time');
    expect(pausedLines.length).toBeLessThanOrEqual(2);
    expect(pausedLines.some((line) => line.level === ERROR)).toBe(true);

    // An operator fixes the account: the password configured is now the one the server accepts.
    smtp.setPassword('the-new-password');
    await messagesOf(smtp, emails.length, 'every held welcome email is sent once the password is right');
    const sent = await waitFor(
      'every welcome email is SENT once the password is right',
      () => Promise.all(ids.map(welcomeOf)),
      (welcomes) => welcomes.every((welcome) => welcome?.status === 'SENT'),
    );
    await sleep(500); // a duplicate would arrive by now
    expect(smtp.messages.map(recipientOf).sort()).toEqual([...emails].sort());
    const messageIds = smtp.messages.map((mail) => mail.messageId);
    expect(new Set(messageIds).size).toBe(emails.length);
    expect([...messageIds].sort()).toEqual(sent.map((welcome) => welcome!.messageId).sort());
    for (const welcome of sent) expect(welcome).toMatchObject({ status: 'SENT', lastError: null });
    expect(sample(await metricsOf(system!.notificationsUrl), 'email_sending_paused', 'cause="smtp"')).toBe(0);
    expect(lines.filter((line) => line.msg === 'sending again')).toHaveLength(1);
  });

  it('an invalid recipient is FAILED once, with no retry loop', async () => {
    const { smtp } = await start({ refuseRecipients: { 'nobody@example.com': { code: 550, message: '5.1.1 no such user' } } });
    const bad = await signUp('Nobody', 'nobody@example.com');
    const good = await signUp('Somebody', 'somebody@example.com');

    const failed = await waitFor(
      'the welcome email to a recipient refused with 550 ends FAILED',
      () => welcomeOf(bad),
      (welcome) => welcome?.status === 'FAILED',
    );
    expect(failed).toMatchObject({ attempts: 1, lastError: expect.stringMatching(/^550: .*no such user/) });
    const [mail] = await messagesOf(smtp, 1, 'the good recipient gets their welcome email');
    await waitFor('the good welcome email is SENT', () => welcomeOf(good), (welcome) => welcome?.status === 'SENT');

    await sleep(SEVERAL_RETRY_PERIODS_MS);
    expect(await welcomeOf(bad)).toMatchObject({ status: 'FAILED', attempts: 1 });
    expect(smtp.refusedRecipients).toEqual(['nobody@example.com']);
    expect(smtp.messages.map(recipientOf)).toEqual(['somebody@example.com']);
    expect(mail!.messageId).toBe((await welcomeOf(good))!.messageId);
    // One recipient's refusal is not the server's fault: sending never paused.
    expect(lines.filter((line) => /sending paused/.test(line.msg ?? ''))).toEqual([]);
  });

  it('a poison record between good ones is recorded and skipped, and the users after it get their emails', async () => {
    const { smtp, system } = await start({});
    await signUp('Before', 'before@example.com');
    await messagesOf(smtp, 1, 'the user before the poison record gets their email');

    // The embedded log has one writer: stop the users service, append as it would, and start it again.
    await system.stop('users');
    const backend = createFileBackend({ dataDir: dataDir! });
    const users = await backend.openStream('users', { logger: pino({ level: 'silent' }), replay: () => undefined });
    const poisonVersion = users.version + 1;
    // A UserAdded without its user (a producer's bug): nothing in it can be read.
    await users.append({ version: poisonVersion, patches: [], events: [{ type: 'UserAdded', user: null }] });
    await users.close();
    await backend.close();
    await system.start('users');

    await signUp('After', 'after@example.com');
    await messagesOf(smtp, 2, 'the user signed up after the poison record gets their email');
    await sleep(500); // a stray email (say, to the poison's missing address) would arrive by now
    expect(smtp.messages.map(recipientOf)).toEqual(['before@example.com', 'after@example.com']);

    const poisoned = await gql(system.gatewayUrl, POISONED, {}, system.operatorToken);
    expect(poisoned.errors).toBeUndefined();
    expect(poisoned.data.poisonedUserEvents).toEqual([
      { version: poisonVersion, index: 0, reason: expect.stringMatching(/^malformed UserAdded: /), at: expect.any(String) },
    ]);
    expect(poisoned.data.poisonedUserEvents[0].reason).toMatch(/expected object, received null.*at user$/);
    expect(sample(await metricsOf(system.notificationsUrl), 'user_events_poisoned_total')).toBe(1);
    expect(lines.filter((line) => line.level === ERROR && line.version === poisonVersion)).toHaveLength(1);

    // Without the scope, nobody reads them.
    const anyone = await gql(system.gatewayUrl, POISONED, {}, await system.token('someone'));
    expect(anyone.errors?.[0]?.extensions?.code).toBe('UNAUTHORIZED_FIELD_OR_TYPE');

    // Recorded durably, and the cursor is past it: a restart neither forgets nor records it again.
    await system.stop('notifications');
    await system.start('notifications');
    const again = await waitFor(
      'the poisoned event is still recorded, once, after a restart',
      () => gql(system.gatewayUrl, POISONED, {}, system.operatorToken),
      (response) => response.data?.poisonedUserEvents !== undefined,
    );
    expect(again.data.poisonedUserEvents).toEqual(poisoned.data.poisonedUserEvents);
    await sleep(300);
    expect(smtp.messages).toHaveLength(2);
  });
});
