import type { Logger } from '../../../lib/logger';
import { LogUnavailableError } from '../../../lib/log';
import type { Store } from '../../../lib/store';
import { beginAttempt, deliveryById, liveClaimOfOther, pendingDeliveries, recordOutcome, renderWelcomeEmail, renewClaim, type NotificationsState } from './domain';
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
  /** This process among the replicas sharing the notifications stream: the name its claims carry. */
  readonly replica: string;
  /** How long a claim lasts: past it, another replica may take the delivery over. */
  readonly leaseMs: number;
  /**
   * How often to look for deliveries this replica does not know of: queued by
   * another replica's consumer, or claimed by a replica whose lease expired.
   * Unset when this process is the only writer (the embedded log).
   */
  readonly scanMs?: number;
  /** SMTP conversations at once. */
  readonly concurrency?: number;
}

/** A takeover waits this much past the end of a lease, for clocks that differ a little. */
const TAKEOVER_MARGIN_MS = 250;

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
 * Sends queued deliveries. Each attempt claims the delivery for this replica
 * (a lease, renewed while the conversation runs) in the log before the SMTP
 * conversation starts, and records its outcome after: a crash in between
 * leaves the delivery QUEUED and claimed, so once the lease ends it is sent
 * again, by any replica, with the same Message-ID.
 */
export const startDeliveryWorker = ({ store, mailer, logger, retry, now, replica, leaseMs, scanMs, concurrency = 4 }: DeliveryWorkerOptions): DeliveryWorker => {
  const timers = new Map<string, NodeJS.Timeout>();
  // A Set keeps arrival order and answers "already due?" in O(1): a backlog of thousands stays linear.
  const due = new Set<string>();
  const inFlight = new Map<string, Promise<void>>();
  let closed = false;

  /** Another replica holds `id`: look again when its lease ends. */
  const followUp = (id: string): void => {
    const delivery = deliveryById(store.state, id);
    if (delivery?.status !== 'QUEUED') return;
    const at = now();
    const claim = liveClaimOfOther(delivery, replica, at.toISOString());
    if (claim) schedule(id, Date.parse(claim.until) - at.getTime() + TAKEOVER_MARGIN_MS);
  };

  // Sent, but the log was out of reach when SENT was to be recorded: recorded later, never sent again.
  const sentUnrecorded = new Map<string, { readonly at: string; readonly attempts: number }>();

  const recordSent = async (id: string, sent: { readonly at: string; readonly attempts: number }): Promise<void> => {
    sentUnrecorded.set(id, sent);
    await store.execute(recordOutcome(id, { kind: 'sent', at: sent.at }));
    sentUnrecorded.delete(id);
    logger.info({ deliveryId: id, attempts: sent.attempts }, 'email sent');
  };

  /** Renews this replica's claim on `id` every third of the lease until `stop` is called: a slow conversation keeps its delivery. */
  const keepClaim = (id: string): (() => void) => {
    const renew = () => {
      const until = new Date(now().getTime() + leaseMs).toISOString();
      store.execute(renewClaim(id, { by: replica, until })).then(
        (held) => held || logger.warn({ deliveryId: id }, 'another replica took the delivery over during the conversation'),
        (error: unknown) => logger.warn({ err: error, deliveryId: id }, 'could not renew the claim'),
      );
    };
    const timer = setInterval(renew, leaseMs / 3);
    return () => clearInterval(timer);
  };

  const attempt = async (id: string): Promise<void> => {
    const unrecorded = sentUnrecorded.get(id);
    if (unrecorded) return recordSent(id, unrecorded);
    const at = now();
    const claimant = { replica, now: at.toISOString(), until: new Date(at.getTime() + leaseMs).toISOString() };
    const delivery = await store.execute(beginAttempt(id, claimant));
    if (!delivery) return followUp(id);
    const attempts = delivery.attempts + 1;
    const release = keepClaim(id);
    try {
      const content = renderWelcomeEmail(delivery.toName);
      await mailer.send({ deliveryId: id, messageId: delivery.messageId, to: { name: delivery.toName, address: delivery.to }, ...content });
    } catch (error) {
      release();
      const reason = describe(error);
      if (isPermanent(error)) {
        await store.execute(recordOutcome(id, { kind: 'failed', error: reason }));
        logger.warn({ deliveryId: id, attempts, code: (error as { responseCode?: number }).responseCode }, 'email refused for good');
      } else {
        const delay = backoffMs(attempts, retry);
        const hold = { by: replica, until: new Date(now().getTime() + delay).toISOString() };
        await store.execute(recordOutcome(id, { kind: 'retrying', error: reason, hold }));
        logger.warn({ deliveryId: id, attempts, retryInMs: Math.round(delay), err: { code: (error as { code?: string }).code } }, 'email not sent; will retry');
        schedule(id, delay);
      }
      return;
    }
    release();
    // Outside the catch: a log out of reach here must not count as a failed send, or the email would go out twice.
    await recordSent(id, { at: now().toISOString(), attempts });
  };

  const pump = () => {
    while (!closed && inFlight.size < concurrency && due.size) {
      const id = due.values().next().value!;
      due.delete(id);
      const run = attempt(id)
        .catch((error: unknown) => {
          logger.error({ err: error, deliveryId: id }, 'delivery attempt crashed');
          // The log was out of reach (a database down): try again later; a sent email only has its outcome recorded.
          if (error instanceof LogUnavailableError) schedule(id, backoffMs(1, retry));
        })
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

  // Deliveries this replica holds are on its own timers; the rest are followed up here.
  const scan = () => {
    const at = now().toISOString();
    for (const delivery of pendingDeliveries(store.state)) {
      if (delivery.claim?.by === replica) continue;
      if (liveClaimOfOther(delivery, replica, at)) followUp(delivery.id);
      else schedule(delivery.id);
    }
  };
  const scanner = scanMs === undefined ? undefined : setInterval(scan, scanMs);
  scanner?.unref();

  return {
    schedule,
    async close() {
      closed = true;
      clearInterval(scanner);
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await Promise.all(inFlight.values());
    },
  };
};
