import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import nodemailer from 'nodemailer';
import type { Logger } from '../../../lib/logger';

export interface OutgoingEmail {
  /** Also names the outbox file. */
  readonly deliveryId: string;
  readonly messageId: string;
  readonly to: { readonly name: string; readonly address: string };
  readonly subject: string;
  readonly text: string;
  readonly html: string;
}

/** How the caller keeps control of a send it may have to give up. */
export interface SendControl {
  /**
   * Called once the server has accepted the envelope and asked for the
   * message (SMTP 354), before a byte of it is sent: resolves to go on,
   * rejects to give the attempt up, and the connection is dropped without
   * the message's terminating dot, so the server discards it.
   */
  readonly handOver: () => Promise<void>;
  /** Aborts the conversation wherever it is (before the hand-over). */
  readonly signal: AbortSignal;
}

export interface Mailer {
  /** Resolves with the server's reply (or the outbox file); rejects with nodemailer's error or the hand-over's. */
  send(email: OutgoingEmail, control?: SendControl): Promise<string>;
  close(): void;
}

export interface MailerOptions {
  /** SMTP when set; otherwise `.eml` files in `outboxDir`. */
  readonly smtpUrl: string | undefined;
  readonly from: string;
  readonly outboxDir: string;
  readonly logger: Logger;
}

/**
 * What a failed send says, as RFC 5321 and nodemailer's error codes read:
 * - `refused`: this message can never go out (a 5xx to RCPT TO or DATA, or
 *   nodemailer refusing the envelope or message itself);
 * - `deferred`: this message cannot go out now (a 4xx to RCPT TO or DATA);
 * - `server`: the server, the network or our own configuration is at fault
 *   (greeting, EHLO, AUTH, TLS, MAIL FROM, 421, 503, connection and timeout
 *   errors), never the recipient: no delivery should pay for it.
 */
export type SendFailure = 'refused' | 'deferred' | 'server';

export const classifySendError = (error: unknown): SendFailure => {
  const { code, responseCode, command } = error as { code?: unknown; responseCode?: unknown; command?: unknown };
  const reply = typeof responseCode === 'number' ? responseCode : undefined;
  if ((code === 'EENVELOPE' || code === 'EMESSAGE') && reply === undefined) return 'refused';
  if (reply === undefined || reply === 421 || reply === 503) return 'server';
  if (command !== 'RCPT TO' && command !== 'DATA') return 'server';
  return reply >= 500 ? 'refused' : 'deferred';
};

const safe = { disableFileAccess: true, disableUrlAccess: true } as const;

/** The message as nodemailer streams it, held back until `handOver` resolves. */
const heldUntil = (handOver: () => Promise<void>, input: Readable): Readable => {
  const content = buffer(input);
  content.catch(() => undefined); // reported through the output below
  let started = false;
  return new Readable({
    read() {
      if (started) return;
      started = true;
      // The first read comes when the server has said 354: nothing of the message has left yet.
      Promise.all([content, handOver()]).then(
        ([bytes]) => {
          this.push(bytes);
          this.push(null);
        },
        (error: unknown) => this.destroy(error as Error),
      );
    },
  });
};

export const createMailer = ({ smtpUrl, from, outboxDir, logger }: MailerOptions): Mailer => {
  const message = (email: OutgoingEmail) => ({
    from,
    to: { name: email.to.name, address: email.to.address },
    subject: email.subject,
    text: email.text,
    html: email.html,
    messageId: email.messageId,
  });

  if (smtpUrl) {
    // The pool must never resend on its own: every attempt is recorded by the caller first. Connections
    // stay open for any number of messages instead of a new SMTP handshake every 100.
    const transport = nodemailer.createTransport({ url: smtpUrl, pool: true, maxRequeues: 0, maxMessages: Infinity, ...safe });
    transport.use('stream', (mail, done) => {
      const { handOver } = mail.data as { handOver?: () => Promise<void> };
      if (handOver) mail.message.processFunc((input) => heldUntil(handOver, input));
      done();
    });
    return {
      send: async (email, control) =>
        (await transport.sendMail({ ...message(email), ...(control && { handOver: control.handOver, signal: control.signal }) })).response,
      close: () => transport.close(),
    };
  }

  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix', ...safe });
  return {
    async send(email, control) {
      const { message: eml } = (await transport.sendMail(message(email))) as unknown as { message: Buffer };
      control?.signal.throwIfAborted();
      await control?.handOver();
      await mkdir(outboxDir, { recursive: true });
      const file = join(outboxDir, `${email.deliveryId}.eml`);
      await writeFile(`${file}.tmp`, eml);
      await rename(`${file}.tmp`, file);
      logger.info({ deliveryId: email.deliveryId, file }, 'welcome email written to the dev outbox');
      return `written to ${file}`;
    },
    close: () => transport.close(),
  };
};
