import { open } from 'node:fs/promises';
import { Counter, Gauge } from 'prom-client';
import { listSegments } from '../../../lib/log';
import { decodeLine } from '../../../lib/log/record';
import { createAppendHistogram, createServiceMetrics, type ServiceMetrics } from '../../../lib/metrics';
import { isPermanent, type Mailer } from './mailer';

/** The version of the newest complete record in the last segment of `file`, read from its end. */
const lastVersionIn = async (file: string): Promise<number | undefined> => {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return undefined;
  try {
    const { size } = await handle.stat();
    for (let window = 64 * 1024; ; window *= 4) {
      const start = Math.max(0, size - window);
      const buffer = Buffer.alloc(size - start);
      await handle.read(buffer, 0, buffer.length, start);
      // The last line may be torn (being written); the first may be cut by the window.
      const lines = buffer.toString('utf8').split('\n').slice(start === 0 ? 0 : 1, -1);
      for (const line of lines.reverse()) {
        const decoded = decodeLine(line);
        if (decoded.ok) return decoded.record.version;
      }
      if (start === 0) return undefined;
    }
  } finally {
    await handle.close();
  }
};

/** The newest version in a log directory written by another service: 0 when there is none yet. */
export const readLogHead = async (dir: string): Promise<number> => {
  for (const { file } of (await listSegments(dir)).reverse()) {
    const version = await lastVersionIn(file);
    if (version !== undefined) return version;
  }
  return 0;
};

export interface NotificationsMetrics extends ServiceMetrics {
  readonly appends: ReturnType<typeof createAppendHistogram>;
  readonly emails: Counter<'status'>;
}

/** Metrics of the notifications service; `lag` is read at scrape time. */
export const createNotificationsMetrics = (lag: () => Promise<{ head: number; consumed: number }>): NotificationsMetrics => {
  const base = createServiceMetrics('notifications');
  const registers = [base.registry];
  new Gauge({
    name: 'consumer_lag_records',
    help: "Records in the users' log that the notifications consumer has not processed yet",
    registers,
    async collect() {
      const { head, consumed } = await lag();
      this.set(Math.max(0, head - consumed));
    },
  });
  return {
    ...base,
    appends: createAppendHistogram(base),
    emails: new Counter({
      name: 'emails_total',
      help: 'SMTP attempts by outcome: sent, failed (refused for good), retry (will be tried again)',
      labelNames: ['status'],
      registers,
    }),
  };
};

/** Counts each send's outcome as the delivery worker will judge it. */
export const countingMailer = (mailer: Mailer, emails: Counter<'status'>): Mailer => ({
  async send(email) {
    try {
      const reply = await mailer.send(email);
      emails.inc({ status: 'sent' });
      return reply;
    } catch (error) {
      emails.inc({ status: isPermanent(error) ? 'failed' : 'retry' });
      throw error;
    }
  },
  close: () => mailer.close(),
});
