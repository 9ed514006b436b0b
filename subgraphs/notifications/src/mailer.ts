import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
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

export interface Mailer {
  /** Resolves with the server's reply (or the outbox file); rejects with nodemailer's error. */
  send(email: OutgoingEmail): Promise<string>;
  close(): void;
}

export interface MailerOptions {
  /** SMTP when set; otherwise `.eml` files in `outboxDir`. */
  readonly smtpUrl: string | undefined;
  readonly from: string;
  readonly outboxDir: string;
  readonly logger: Logger;
}

const safe = { disableFileAccess: true, disableUrlAccess: true } as const;

/** True when retrying the same message cannot help (a 5xx reply other than 503). */
export const isPermanent = (error: unknown): boolean => (error as { permanent?: unknown }).permanent === true;

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
    return {
      send: async (email) => (await transport.sendMail(message(email))).response,
      close: () => transport.close(),
    };
  }

  const transport = nodemailer.createTransport({ streamTransport: true, buffer: true, newline: 'unix', ...safe });
  return {
    async send(email) {
      const { message: eml } = (await transport.sendMail(message(email))) as unknown as { message: Buffer };
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
