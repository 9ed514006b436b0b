import { Counter, Gauge } from 'prom-client';
import type { ServiceMetrics } from '../../../lib/metrics';
import { isPermanent, type Mailer } from './mailer';

/** Adds the notifications service's metrics to its registry; `lag` is read at scrape time. */
export const registerNotificationsMetrics = (metrics: ServiceMetrics, lag: () => Promise<{ head: number; consumed: number }>) => {
  const registers = [metrics.registry];
  new Gauge({
    name: 'consumer_lag_records',
    help: "Records in the users' log that the notifications consumer has not processed yet",
    registers,
    async collect() {
      // The users' stream may be out of reach (a database down): the gauge keeps its last value rather than fail the scrape.
      const measured = await lag().catch(() => undefined);
      if (measured) this.set(Math.max(0, measured.head - measured.consumed));
    },
  });
  return {
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
