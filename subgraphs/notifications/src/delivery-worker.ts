import { performance } from 'node:perf_hooks';
import { backoffMs, type Backoff } from '../../../lib/backoff';
import type { Logger } from '../../../lib/logger';
import { LogUnavailableError } from '../../../lib/log';
import { ContentionError, type Store } from '../../../lib/store';
import { inSpan, linksTo, ROOT_CONTEXT, SpanKind, tracingOff, type Tracer } from '../../../lib/tracing';
import {
  beginAttempt,
  claimKey,
  deliveryById,
  holdsClaim,
  pendingDeliveries,
  recordOutcome,
  renderWelcomeEmail,
  renewClaim,
  type Delivery,
  type Fence,
  type NotificationsState,
} from './domain';
import { classifySendError, type Mailer } from './mailer';

export interface RetryPolicy extends Backoff {
  /** A delivery the server keeps deferring (4xx) is FAILED once it has been queued this long. */
  readonly maxAgeMs: number;
}

/** Why the whole worker stopped sending for a while: the SMTP server (or our access to it), or the log. */
export type PauseCause = 'smtp' | 'log';

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
  /** Told when sending pauses (with its cause) and resumes (undefined). */
  readonly onPause?: (cause: PauseCause | undefined) => void;
  /** Told, for each email sent, how long it took from the hand-over check to the server's acceptance. */
  readonly onHandedOver?: (ms: number) => void;
  /** Each attempt at a queued delivery is a trace of its own that links to the sign-up's. */
  readonly tracer?: Tracer;
}

/** Failed probes after which a pause is logged as an error. */
const PROBES_BEFORE_ERROR = 4;

/** A takeover waits this much past the end of a lease it watched, for the holder's own margin. */
const TAKEOVER_MARGIN_MS = 250;

export interface DeliveryWorker {
  /** Sends the delivery after `delayMs`, unless it is already due or in flight. */
  schedule(id: string, delayMs?: number): void;
  close(): Promise<void>;
}

const describe = (error: unknown): string => {
  const { responseCode, code, message } = error as { responseCode?: number; code?: string; message?: string };
  return [responseCode ?? code, message ?? String(error)].filter(Boolean).join(': ');
};

/**
 * Sends queued deliveries. Each attempt claims the delivery for this replica
 * in the log before the SMTP conversation starts; the claim is renewed while
 * the conversation runs and checked once more, through the log, right before
 * the message is handed over: a replica paused past its lease, or whose claim
 * was taken over, gives the attempt up instead of sending. Another replica's
 * claim expires only once this replica has watched it, unchanged, for the
 * claim's lease on its own monotonic clock. A crash leaves the delivery QUEUED
 * and claimed, so once the lease ends it is sent again, by any replica, with
 * the same Message-ID.
 *
 * When the SMTP server (greeting, AUTH, TLS, connection) or the log is at
 * fault, the whole worker pauses with exponential backoff and probes with one
 * delivery at a time; no delivery is failed for it.
 */
export const startDeliveryWorker = (options: DeliveryWorkerOptions): DeliveryWorker => {
  const { store, mailer, logger, retry, now, replica, leaseMs, scanMs, concurrency = 4, onPause, onHandedOver, tracer = tracingOff.tracer } = options;
  /** The least lease an attempt must have left to hand a message over. */
  const safetyMs = leaseMs / 3;
  const timers = new Map<string, NodeJS.Timeout>();
  // A Set keeps arrival order and answers "already due?" in O(1): a backlog of thousands stays linear.
  const due = new Set<string>();
  const inFlight = new Map<string, Promise<void>>();
  /** Other replicas' claims as this replica first saw them, by delivery id: when (monotonic) it saw which claim. */
  const seen = new Map<string, { readonly key: string; readonly at: number }>();
  /** While paused: why, how many failures in a row, since when, and whether the backoff is over so one probe may run. */
  let paused: { readonly cause: PauseCause; readonly streak: number; readonly since: number; probing: boolean } | undefined;
  let resumeTimer: NodeJS.Timeout | undefined;
  let closed = false;

  /** Milliseconds until another replica's claim on `delivery` has expired as this replica measures it; undefined when nobody else holds it. */
  const othersClaimLeft = (delivery: Delivery): number | undefined => {
    const { claim } = delivery;
    if (!claim || claim.by === replica) {
      seen.delete(delivery.id);
      return undefined;
    }
    const key = claimKey(claim);
    let sighting = seen.get(delivery.id);
    if (sighting?.key !== key) seen.set(delivery.id, (sighting = { key, at: performance.now() }));
    return sighting.at + claim.leaseMs + TAKEOVER_MARGIN_MS - performance.now();
  };

  /** Another replica holds `id`: look again when its lease would end. */
  const followUp = (id: string): void => {
    const delivery = deliveryById(store.state, id);
    if (delivery?.status !== 'QUEUED') return void seen.delete(id);
    const left = othersClaimLeft(delivery);
    if (left !== undefined) schedule(id, Math.max(0, left));
  };

  /** Stops sending for a backoff, after which one delivery at a time probes; returns the backoff. */
  const pause = (cause: PauseCause, error: unknown): number => {
    const streak = (paused?.streak ?? 0) + 1;
    const delay = backoffMs(streak, retry);
    const what = cause === 'smtp' ? 'the SMTP server refuses us or cannot be reached' : 'the log is out of reach';
    // A lone 421 is routine: a warning. Still failing after a few probes, it is an operator's problem.
    if (paused?.cause !== cause) {
      logger.warn({ err: error, cause, retryInMs: Math.round(delay) }, `${what}: sending paused, deliveries kept; probing with one at a time`);
      onPause?.(cause);
    } else if (streak === PROBES_BEFORE_ERROR) {
      logger.error({ err: error, cause, probes: streak - 1, retryInMs: Math.round(delay) }, `${what}, still: sending paused, deliveries kept`);
    }
    const current = { cause, streak, since: paused?.since ?? performance.now(), probing: false };
    paused = current;
    clearTimeout(resumeTimer);
    resumeTimer = setTimeout(() => {
      current.probing = true;
      pump();
    }, delay);
    return delay;
  };

  const resume = (): void => {
    if (!paused) return;
    logger.info({ cause: paused.cause, pausedForMs: Math.round(performance.now() - paused.since), probes: paused.streak }, 'sending again');
    paused = undefined;
    clearTimeout(resumeTimer);
    onPause?.(undefined);
  };

  // Sent, but the log was out of reach when SENT was to be recorded: recorded later, never sent again.
  const sentUnrecorded = new Map<string, { readonly fence: Fence; readonly at: string }>();

  const recordSent = async (id: string, sent: { readonly fence: Fence; readonly at: string }): Promise<void> => {
    sentUnrecorded.set(id, sent);
    await store.execute(recordOutcome(id, sent.fence, { kind: 'sent', at: sent.at }), { name: 'recordOutcome' });
    sentUnrecorded.delete(id);
    logger.info({ deliveryId: id, attempts: sent.fence.attempt }, 'email sent');
  };

  const leaseUntil = (ms: number) => ({ leaseMs: ms, until: new Date(now().getTime() + ms).toISOString() });

  /**
   * Holds the claim of one attempt: renews it every third of the lease, and
   * gives the attempt up (aborting the conversation) once it is taken over,
   * settled elsewhere, or less than the safety margin of the lease is left.
   */
  const holdClaim = (id: string, fence: Fence, claimedAt: number) => {
    const controller = new AbortController();
    let leaseFrom = claimedAt; // monotonic, taken before the write: the lease others see starts later
    let lostBecause: string | undefined;
    let handedAt: number | undefined;
    // Once the message has left, only the server's answer decides: waiting for it, nothing is given up.
    const giveUp = (reason: string) => {
      if (handedAt !== undefined) return;
      lostBecause ??= reason;
      controller.abort(new Error(reason));
    };
    const leftMs = () => leaseFrom + leaseMs - performance.now();
    const renew = async (): Promise<void> => {
      const issued = performance.now();
      if (await store.execute(renewClaim(id, fence, leaseUntil(leaseMs)), { name: 'renewClaim' })) leaseFrom = issued;
      else giveUp('another replica took the delivery over, or it was settled');
    };
    const timer = setInterval(() => {
      if (leftMs() < safetyMs) return giveUp(`less than ${Math.round(safetyMs)} ms of the lease left`);
      renew().catch((error: unknown) => logger.warn({ err: error, deliveryId: id }, 'could not renew the claim; the hand-over checks it again'));
    }, leaseMs / 3);
    return {
      signal: controller.signal,
      /** The last check before the message leaves: through the log, with enough lease left. */
      handOver: async (): Promise<void> => {
        if (lostBecause === undefined) {
          try {
            await renew();
          } catch (error) {
            giveUp(`the claim could not be confirmed: ${describe(error)}`);
          }
        }
        if (lostBecause === undefined && leftMs() < safetyMs) giveUp(`less than ${Math.round(safetyMs)} ms of the lease left`);
        if (lostBecause !== undefined) throw new Error(lostBecause);
        handedAt = performance.now();
      },
      get lostBecause() {
        return lostBecause;
      },
      get handedAt() {
        return handedAt;
      },
      release: () => clearInterval(timer),
    };
  };

  const attempt = async (id: string): Promise<void> => {
    const unrecorded = sentUnrecorded.get(id);
    if (unrecorded) return recordSent(id, unrecorded);
    const current = deliveryById(store.state, id);
    if (current?.status !== 'QUEUED') return;
    const left = othersClaimLeft(current);
    if (left !== undefined && left > 0) return schedule(id, left);
    const claimedAt = performance.now();
    const begun = await store.execute(
      beginAttempt(id, { replica, ...leaseUntil(leaseMs), ...(left !== undefined && current.claim && { takeOver: claimKey(current.claim) }) }),
      { name: 'beginAttempt' },
    );
    if (!begun) return followUp(id);
    seen.delete(id);
    const { delivery, fence } = begun;
    const claim = holdClaim(id, fence, claimedAt);
    try {
      const content = renderWelcomeEmail(delivery.toName);
      const message = { deliveryId: id, messageId: delivery.messageId, to: { name: delivery.toName, address: delivery.to }, ...content };
      await inSpan(tracer, 'smtp send', { kind: SpanKind.CLIENT, attributes: { 'delivery.attempt': fence.attempt } }, () => mailer.send(message, claim));
    } catch (error) {
      claim.release();
      if (claim.lostBecause !== undefined) {
        logger.warn({ deliveryId: id, attempts: fence.attempt, reason: claim.lostBecause }, 'attempt given up before the message was handed over');
        // Nothing of it left and, as far as this replica knows, the claim is still its own (the log was out of
        // reach, or the lease ran short with nobody taking over): nobody else sends it, so try again later.
        const latest = deliveryById(store.state, id);
        if (holdsClaim(latest, fence)) {
          return schedule(id, backoffMs(fence.attempt, retry));
        }
        return followUp(id);
      }
      return settleFailure(id, fence, delivery, error);
    }
    claim.release();
    if (claim.handedAt !== undefined) onHandedOver?.(performance.now() - claim.handedAt);
    resume();
    // Outside the catch: a log out of reach here must not count as a failed send, or the email would go out twice.
    await recordSent(id, { fence, at: now().toISOString() });
  };

  const settleFailure = async (id: string, fence: Fence, delivery: Delivery, error: unknown): Promise<void> => {
    const reason = describe(error);
    const failure = classifySendError(error);
    const code = (error as { responseCode?: number; code?: string }).responseCode ?? (error as { code?: string }).code;
    if (failure === 'server') {
      due.add(id);
      const delay = pause('smtp', error);
      await store.execute(recordOutcome(id, fence, { kind: 'retrying', error: reason, hold: leaseUntil(delay + leaseMs) }), { name: 'recordOutcome' });
      return;
    }
    resume();
    const age = now().getTime() - Date.parse(delivery.createdAt);
    if (failure === 'refused' || age >= retry.maxAgeMs) {
      const why = failure === 'refused' ? reason : `${reason} (still deferred after ${Math.round(age / 60_000)} min, past SMTP_RETRY_MAX_AGE_MS)`;
      await store.execute(recordOutcome(id, fence, { kind: 'failed', error: why }), { name: 'recordOutcome' });
      logger.warn({ deliveryId: id, attempts: fence.attempt, code }, 'email refused for good');
      return;
    }
    const delay = backoffMs(fence.attempt, retry);
    await store.execute(recordOutcome(id, fence, { kind: 'retrying', error: reason, hold: leaseUntil(delay + leaseMs) }), { name: 'recordOutcome' });
    logger.warn({ deliveryId: id, attempts: fence.attempt, retryInMs: Math.round(delay), code }, 'email deferred by the server; will retry');
    schedule(id, delay);
  };

  function pump(): void {
    // Paused: nothing until the backoff's timer fires, then one probe at a time.
    const limit = paused ? (paused.probing ? 1 : 0) : concurrency;
    while (!closed && inFlight.size < limit && due.size) {
      const id = due.values().next().value!;
      due.delete(id);
      const queued = deliveryById(store.state, id);
      const run = (
        queued?.status === 'QUEUED'
          ? inSpan(tracer, 'welcome-email deliver', { links: linksTo([queued.trace]), attributes: { 'delivery.kind': queued.kind } }, () => attempt(id), ROOT_CONTEXT)
          : attempt(id)
      )
        .catch((error: unknown) => {
          if (error instanceof LogUnavailableError) {
            pause('log', error);
            due.add(id);
          } else if (error instanceof ContentionError) {
            // Other replicas kept winning the log; what this attempt did not record (a SENT) is recorded on the next, never sent again.
            logger.warn({ err: error, deliveryId: id }, 'delivery attempt lost its races for the log; trying again');
            schedule(id, backoffMs(1, retry));
          } else logger.error({ err: error, deliveryId: id }, 'delivery attempt crashed');
        })
        .finally(() => {
          inFlight.delete(id);
          pump();
        });
      inFlight.set(id, run);
    }
  }

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
    const pending = pendingDeliveries(store.state);
    const pendingIds = new Set(pending.map((delivery) => delivery.id));
    for (const id of seen.keys()) if (!pendingIds.has(id)) seen.delete(id);
    for (const delivery of pending) {
      if (delivery.claim?.by === replica) continue;
      followUp(delivery.id);
      if (!delivery.claim) schedule(delivery.id);
    }
  };
  const scanner = scanMs === undefined ? undefined : setInterval(scan, scanMs);
  scanner?.unref();

  return {
    schedule,
    async close() {
      closed = true;
      clearInterval(scanner);
      clearTimeout(resumeTimer);
      for (const timer of timers.values()) clearTimeout(timer);
      timers.clear();
      await Promise.all(inFlight.values());
    },
  };
};
