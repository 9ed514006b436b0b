import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * What the server answers to DATA: accept; take the message but never reply
 * (the client cannot tell whether it was delivered); or an SMTP error reply.
 */
export type SmtpMode = 'accept' | 'stall' | { readonly code: number; readonly message: string };

/** What a test may ask of the server on top of the defaults (no AUTH, every recipient accepted). */
export interface SmtpServerOptions {
  /** Set: AUTH is required (530 without it), as `user` with the password `setPassword` changes; any other gets 535. */
  readonly auth?: { readonly user: string; readonly password: string };
  /** Recipients refused at RCPT TO, by address (compared in lower case), with this reply. */
  readonly refuseRecipients?: Readonly<Record<string, { readonly code: number; readonly message: string }>>;
}

export interface TestSmtpServer {
  readonly url: string;
  /** Every message accepted, parsed, in arrival order. */
  readonly messages: ParsedMail[];
  /** How many messages were refused with an error reply. */
  readonly refused: () => number;
  setMode(mode: SmtpMode): void;
  /** With `auth`: the password the server accepts from now on (an operator fixing the account). */
  setPassword(password: string): void;
  /** How many AUTH attempts the server has seen, and how many of them it accepted. */
  readonly authAttempts: () => { readonly total: number; readonly accepted: number };
  /** How many SMTP sessions (connections) have been opened. */
  readonly sessions: () => number;
  /** RCPT TO commands refused through `refuseRecipients`, by address, in order. */
  readonly refusedRecipients: string[];
  /** Resolves once `count` messages have been accepted in all. */
  waitForMessages(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

/** A real SMTP server on a free loopback port. */
export const startSmtpServer = async ({ auth, refuseRecipients = {} }: SmtpServerOptions = {}): Promise<TestSmtpServer> => {
  const messages: ParsedMail[] = [];
  const waiters: (() => void)[] = [];
  let mode: SmtpMode = 'accept';
  let refused = 0;
  let password = auth?.password;
  const attempts = { total: 0, accepted: 0 };
  let sessions = 0;
  const refusedRecipients: string[] = [];
  const refusals = new Map(Object.entries(refuseRecipients).map(([address, reply]) => [address.toLowerCase(), reply]));
  const server = new SMTPServer({
    authOptional: !auth,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onConnect(_session, callback) {
      sessions++;
      callback();
    },
    ...(auth && {
      // No STARTTLS is offered, so AUTH goes over the plain connection, as to a relay on loopback.
      allowInsecureAuth: true,
      onAuth(credentials, _session, callback) {
        attempts.total++;
        if (credentials.username === auth.user && credentials.password === password) {
          attempts.accepted++;
          callback(null, { user: credentials.username });
        } else callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
      },
    }),
    onRcptTo(address, _session, callback) {
      const reply = refusals.get(address.address.toLowerCase());
      if (!reply) return callback();
      refusedRecipients.push(address.address);
      callback(Object.assign(new Error(reply.message), { responseCode: reply.code }));
    },
    // Clients of a stopped test keep pooled connections open: do not wait long for them.
    closeTimeout: 1_000,
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (mode !== 'accept' && mode !== 'stall') {
          refused++;
          callback(Object.assign(new Error(mode.message), { responseCode: mode.code }));
          return;
        }
        const stalled = mode === 'stall';
        simpleParser(Buffer.concat(chunks)).then((mail) => {
          messages.push(mail);
          if (!stalled) callback();
          for (const wake of waiters.splice(0)) wake();
        }, callback);
      });
    },
  });
  // A client killed -9 resets its pooled connection: the server reports that as an 'error', which,
  // unheard, would end the test process. Resets are what the fault tests cause; anything else is thrown.
  server.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') throw error;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    refused: () => refused,
    setMode: (next) => {
      mode = next;
    },
    setPassword: (next) => {
      password = next;
    },
    authAttempts: () => ({ ...attempts }),
    sessions: () => sessions,
    refusedRecipients,
    waitForMessages(count, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`timed out waiting for ${count} messages; got ${messages.length}`)),
          timeoutMs,
        );
        const check = () => {
          if (messages.length >= count) {
            clearTimeout(timer);
            resolve(messages);
          } else waiters.push(check);
        };
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
};
