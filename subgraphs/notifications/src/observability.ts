import { Counter, Gauge, Histogram } from 'prom-client';
import type { ServiceMetrics } from '../../../lib/metrics';
import { classifySendError, type Mailer } from './mailer';

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
  const sendingPaused = new Gauge({
    name: 'email_sending_paused',
    help: 'Whether this replica has stopped sending, by cause: smtp (the server refuses us or cannot be reached) or log (the log is out of reach)',
    labelNames: ['cause'],
    registers,
  });
  for (const cause of ['smtp', 'log']) sendingPaused.set({ cause }, 0);
  return {
    emails: new Counter({
      name: 'emails_total',
      help: 'SMTP attempts by outcome: sent; refused (for good); deferred (by the server, for this message); server (the server or our access to it failed); abandoned (the claim no longer held)',
      labelNames: ['status'],
      registers,
    }),
    poisoned: new Counter({
      name: 'user_events_poisoned_total',
      help: "Events of the users' log that could not be consumed (see the poisonedUserEvents query)",
      registers,
    }),
    handOver: new Histogram({
      name: 'email_handover_seconds',
      help: 'From the last claim check before a message is handed over to the server accepting it: the window in which a paused or dying replica can still send a mail another replica will send again',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    paused: (cause: 'smtp' | 'log' | undefined) => {
      for (const each of ['smtp', 'log']) sendingPaused.set({ cause: each }, each === cause ? 1 : 0);
    },
  };
};

/** Counts each send's outcome. */
export const countingMailer = (mailer: Mailer, emails: Counter<'status'>): Mailer => ({
  async send(email, control) {
    try {
      const reply = await mailer.send(email, control);
      emails.inc({ status: 'sent' });
      return reply;
    } catch (error) {
      emails.inc({ status: control?.signal.aborted ? 'abandoned' : classifySendError(error) });
      throw error;
    }
  },
  close: () => mailer.close(),
});
