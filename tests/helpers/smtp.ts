import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/**
 * What the server answers to DATA: accept; take the message but never reply
 * (the client cannot tell whether it was delivered); or an SMTP error reply.
 */
export type SmtpMode = 'accept' | 'stall' | { readonly code: number; readonly message: string };

export interface TestSmtpServer {
  readonly url: string;
  /** Every message accepted, parsed, in arrival order. */
  readonly messages: ParsedMail[];
  /** How many messages were refused with an error reply. */
  readonly refused: () => number;
  setMode(mode: SmtpMode): void;
  /** Resolves once `count` messages have been accepted in all. */
  waitForMessages(count: number, timeoutMs?: number): Promise<ParsedMail[]>;
  close(): Promise<void>;
}

/** A real SMTP server on a free loopback port. */
export const startSmtpServer = async (): Promise<TestSmtpServer> => {
  const messages: ParsedMail[] = [];
  const waiters: (() => void)[] = [];
  let mode: SmtpMode = 'accept';
  let refused = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
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
