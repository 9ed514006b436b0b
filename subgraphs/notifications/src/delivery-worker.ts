import type { Logger } from '../../../lib/logger';
import type { Store } from '../../../lib/store';
import { beginAttempt, recordOutcome, renderWelcomeEmail, type NotificationsState } from './domain';
import { isPermanent, type Mailer } from './mailer';

export interface RetryPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export interface DeliveryWorkerOptions {
  readonly store: Store<NotificationsState, never>;
  readonly mailer: Mailer;
  readonly logger: Logger;
  readonly retry: RetryPolicy;
  readonly now: () => Date;
  /** SMTP conversations at once. */
  readonly concurrency?: number;
}

export interface DeliveryWorker {
  /** Sends the delivery after `delayMs`, unless it is already due or in flight. */
  schedule(id: string, delayMs?: number): void;
  close(): Promise<void>;
}

/** Exponential backoff with equal jitter: half the capped delay, plus up to half again at random. */
export const backoffMs = (attempt: number, { baseMs, maxMs }: RetryPolicy, random = Math.random): number => {
  const capped = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return capped / 2 + random() * (capped / 2);
};

const describe = (error: unknown): string => {
  const { responseCode, code, message } = error as { responseCode?: number; code?: string; message?: string };
  return [responseCode ?? code, message ?? String(error)].filter(Boolean).join(': ');
};

/**
 * Sends queued deliveries. Each attempt is recorded before the SMTP
 * conversation starts and its outcome after: a crash in between leaves the
 * delivery QUEUED, so it is sent again, with the same Message-ID.
 */
export const startDeliveryWorker = ({ store, mailer, logger, retry, now, concurrency = 4 }: DeliveryWorkerOptions): DeliveryWorker => {
  const timers = new Map<string, NodeJS.Timeout>();
  // A Set keeps arrival order and answers "already due?" in O(1): a backlog of thousands stays linear.
  const due = new Set<string>();
  const inFlight = new Map<string, Promise<void>>();
  let closed = false;

  const attempt = async (id: string): Promise<void> => {
    const delivery = await store.execute(beginAttempt(id));
    if (!delivery) return;
    const attempts = delivery.attempts + 1;
    try {
      const content = renderWelcomeEmail(delivery.toName);
      await mailer.send({ deliveryId: id, messageId: delivery.messageId, to: { name: delivery.toName, address: delivery.to }, ...content });
      await store.execute(recordOutcome(id, { kind: 'sent', at: now().toISOString() }));
      logger.info({ deliveryId: id, attempts }, 'email sent');
    } catch (error) {
      const reason = describe(error);
      if (isPermanent(error)) {
        await store.execute(recordOutcome(id, { kind: 'failed', error: reason }));
        logger.warn({ deliveryId: id, attempts, code: (error as { responseCode?: number }).responseCode }, 'email refused for good');
      } else {
        await store.execute(recordOutcome(id, { kind: 'retrying', error: reason }));
        const delay = backoffMs(attempts, retry);
        logger.warn({ deliveryId: id, attempts, retryInMs: Math.round(delay), err: { code: (error as { code?: string }).code } }, 'email not sent; will retry');
        schedule(id, delay);
      }
    }
  };

  const pump = () => {
    while (!closed && inFlight.size < concurrency && due.size) {
      const id = due.values().next().value!;
      due.delete(id);
      const run = attempt(id)
        .catch((error: unknown) => logger.error({ err: error, deliveryId: id }, 'delivery attempt crashed'))
        .finally(() => {
          inFlight.delete(id);
          pump();
        });
      inFlight.set(id, run);
    }
  };

  function schedule(id: string, delayMs = 0): void {
    if (closed || timers.has(id) || due.has(id) || (inFlight.has(id) && delayMs === 0)) return;
    const timer = setTimeout(() => {
      timers.delete(id);
      due.add(id);
      pump();
    }, delayMs);
    timers.set(id, timer);
  }

  return {
    schedule,
    async close() {
      closed = true;
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await Promise.all(inFlight.values());
    },
  };
};
