import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { classifySendError, createMailer, type Mailer, type OutgoingEmail } from '../../subgraphs/notifications/src/mailer';
import { silentLogger } from '../helpers/logs';

const EMAIL: OutgoingEmail = {
  deliveryId: 'welcome-u-1',
  messageId: '<welcome-u-1@mail.test>',
  to: { name: 'Ada', address: 'ada@example.com' },
  subject: 'Welcome, Ada!',
  text: 'Hello Ada,',
  html: '<p>Hello Ada,</p>',
};

/** A real SMTP server that writes down, in order, what the conversation reached. */
const startServer = async (options: Partial<SMTPServerOptions> = {}) => {
  const events: string[] = [];
  const messages: ParsedMail[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 500,
    onRcptTo(address, _session, callback) {
      events.push(`RCPT ${address.address}`);
      callback();
    },
    onData(stream, _session, callback) {
      events.push('DATA');
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        events.push('end of message');
        simpleParser(Buffer.concat(chunks)).then((mail) => {
          messages.push(mail);
          callback();
        }, callback);
      });
    },
    ...options,
  });
  server.on('error', () => undefined); // a client dropping its connection mid-message is what these tests do
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { port, events, messages, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
};

type Server = Awaited<ReturnType<typeof startServer>>;

/** The error `send` rejects with. */
const failureOf = (promise: Promise<unknown>): Promise<unknown> => promise.then(
  () => {
    throw new Error('expected the send to fail');
  },
  (error: unknown) => error,
);

describe('the SMTP mailer', () => {
  let server: Server;
  let mailer: Mailer;

  afterEach(async () => {
    mailer?.close();
    await server?.close();
  });

  const open = async (options: Partial<SMTPServerOptions> = {}, credentials = '') => {
    server = await startServer(options);
    mailer = createMailer({ smtpUrl: `smtp://${credentials}127.0.0.1:${server.port}`, from: 'Welcome <welcome@mail.test>', outboxDir: '', logger: silentLogger() });
  };

  const control = (handOver: () => Promise<void>) => ({ handOver, signal: new AbortController().signal });

  it('asks for the hand-over once the server has accepted the envelope, before any of the message is sent', async () => {
    await open();
    const handOver = jest.fn(async () => {
      server.events.push('hand-over');
    });

    await mailer.send(EMAIL, control(handOver));

    expect(handOver).toHaveBeenCalledTimes(1);
    expect(server.events).toEqual(['RCPT ada@example.com', 'DATA', 'hand-over', 'end of message']);
    expect(server.messages.map((mail) => mail.messageId)).toEqual([EMAIL.messageId]);
  });

  it('sends nothing when the hand-over refuses: the connection is dropped before the message, and the next send goes out', async () => {
    await open();

    const refused = await failureOf(mailer.send(EMAIL, control(async () => Promise.reject(new Error('claim taken over')))));
    await mailer.send({ ...EMAIL, messageId: '<second@mail.test>' }, control(async () => {}));

    expect(String(refused)).toContain('claim taken over');
    expect(server.messages.map((mail) => mail.messageId)).toEqual(['<second@mail.test>']);
  });

  it('reads a 5xx to RCPT TO as this message refused, and a 4xx there as deferred', async () => {
    const refusals: Record<string, number> = { 'gone@example.com': 550, 'full@example.com': 452 };
    await open({
      onRcptTo(address, _session, callback) {
        const code = refusals[address.address];
        callback(code ? Object.assign(new Error(`${code} no`), { responseCode: code }) : undefined);
      },
    });

    const gone = await failureOf(mailer.send({ ...EMAIL, to: { name: 'Gone', address: 'gone@example.com' } }));
    const full = await failureOf(mailer.send({ ...EMAIL, to: { name: 'Full', address: 'full@example.com' } }));

    expect([classifySendError(gone), classifySendError(full)]).toEqual(['refused', 'deferred']);
  });

  it('reads a 5xx after the message as refused', async () => {
    await open({
      onData(stream, _session, callback) {
        stream.resume();
        stream.on('end', () => callback(Object.assign(new Error('554 spam'), { responseCode: 554 })));
      },
    });

    expect(classifySendError(await failureOf(mailer.send(EMAIL)))).toBe('refused');
  });

  it("reads a refused login (535) as the server's or our configuration's trouble, never the recipient's", async () => {
    await open(
      {
        authOptional: false,
        onAuth(_auth, _session, callback) {
          callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
        },
      },
      'user:wrong@',
    );

    const error = await failureOf(mailer.send(EMAIL));

    expect(error).toMatchObject({ code: 'EAUTH', responseCode: 535 });
    expect(classifySendError(error)).toBe('server');
  });

  it('reads a server that is not there as server trouble', async () => {
    await open();
    await server.close();

    expect(classifySendError(await failureOf(mailer.send(EMAIL)))).toBe('server');
  });
});

describe('classifySendError', () => {
  it.each([
    [{ code: 'EENVELOPE', responseCode: 550, command: 'RCPT TO' }, 'refused'],
    [{ code: 'EENVELOPE', responseCode: 553, command: 'RCPT TO' }, 'refused'],
    [{ code: 'EMESSAGE', responseCode: 552, command: 'DATA' }, 'refused'],
    [{ code: 'EENVELOPE', responseCode: 451, command: 'RCPT TO' }, 'deferred'],
    [{ code: 'EMESSAGE', responseCode: 450, command: 'DATA' }, 'deferred'],
    [{ code: 'EENVELOPE', command: 'API', message: 'No recipients defined' }, 'refused'],
    [{ code: 'EMESSAGE', command: 'MAIL FROM', message: 'Message size larger than allowed' }, 'refused'],
    [{ code: 'EENVELOPE', responseCode: 421, command: 'RCPT TO' }, 'server'],
    [{ code: 'EENVELOPE', responseCode: 503, command: 'RCPT TO' }, 'server'],
    [{ code: 'EENVELOPE', responseCode: 550, command: 'MAIL FROM' }, 'server'],
    [{ code: 'EAUTH', responseCode: 535, command: 'AUTH PLAIN' }, 'server'],
    [{ code: 'EPROTOCOL', responseCode: 554, command: 'CONN' }, 'server'],
    [{ code: 'ETLS', command: 'STARTTLS' }, 'server'],
    [{ code: 'ECONNECTION', command: 'CONN' }, 'server'],
    [{ code: 'ETIMEDOUT', command: 'CONN' }, 'server'],
    [new Error('something else broke'), 'server'],
  ])('reads %j as %s', (error, expected) => {
    expect(classifySendError(error)).toBe(expected);
  });
});
