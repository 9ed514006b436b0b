import { enablePatches, produceWithPatches, type Draft, type Immutable } from 'immer';
import type { Command } from '../../lib/store';
import {
  beginAttempt,
  claimKey,
  consumeUserRecords,
  deliveriesOf,
  deliveryById,
  pendingDeliveries,
  poisonedEvents,
  queuedDeliveries,
  recordOutcome,
  renderWelcomeEmail,
  renewClaim,
  resendWelcome,
  welcomeDeliveryId,
  welcomeOf,
  type Claimant,
  type NotificationsState,
} from '../../subgraphs/notifications/src/domain';
import { aDelivery, aNotificationsState, aUserAdded, aUsersRecord, CREATED_AT } from '../helpers/builders';

enablePatches();

type State = Immutable<NotificationsState>;

const MADE = { now: CREATED_AT, messageIdDomain: 'mail.test' };
/** A caller who may resend anyone's welcome email. */
const OPERATOR = { userId: undefined, scopes: new Set(['notifications:write']) };

/** Runs a command as the store would: the decision, and the next state when it wrote one. */
const run = <R>(state: State, command: Command<NotificationsState, never, R>) => {
  const decision = command(state);
  if (!decision.recipe) return { result: decision.result, next: state };
  const [next] = produceWithPatches(state, decision.recipe as (draft: Draft<State>) => void);
  return { result: decision.result, next };
};

describe('consumeUserRecords', () => {
  it('queues one welcome email per UserAdded and advances the cursor', () => {
    const ada = aUserAdded({ id: 'u-ada', name: 'Ada', email: 'ada@example.com' });
    const bo = aUserAdded({ id: 'u-bo', name: 'Bo', email: 'bo@example.com' });
    const { result, next } = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1, [ada]), aUsersRecord(2, [bo])], MADE));

    expect(result.queued.map((d) => d.userId)).toEqual(['u-ada', 'u-bo']);
    expect(next.cursor).toBe(2);
    expect(welcomeOf(next, 'u-ada')).toEqual({
      id: 'welcome-u-ada',
      userId: 'u-ada',
      kind: 'WELCOME',
      to: 'ada@example.com',
      toName: 'Ada',
      subject: 'Welcome, Ada!',
      status: 'QUEUED',
      attempts: 0,
      createdAt: CREATED_AT,
      sentAt: null,
      messageId: '<welcome-u-ada@mail.test>',
      lastError: null,
    });
    expect(deliveriesOf(next, 'u-bo').map((d) => d.id)).toEqual(['welcome-u-bo']);
    expect(queuedDeliveries(next)).toHaveLength(2);
  });

  it('derives the Message-ID from the delivery id, so it is the same whenever it is made', () => {
    const event = aUserAdded({ id: 'u-1' });
    const first = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1, [event])], MADE)).result.queued[0]!;
    const again = run(aNotificationsState(), consumeUserRecords([aUsersRecord(7, [event])], { ...MADE, now: '2030-01-01T00:00:00.000Z' }))
      .result.queued[0]!;

    expect(first.id).toBe(welcomeDeliveryId('u-1'));
    expect(first.messageId).toBe(`<${first.id}@mail.test>`);
    expect(again.messageId).toBe(first.messageId);
  });

  it('yields nothing and writes nothing for records it has already consumed', () => {
    const records = [aUsersRecord(1), aUsersRecord(2)];
    const { next: state } = run(aNotificationsState(), consumeUserRecords(records, MADE));

    const again = consumeUserRecords(records, MADE)(state);
    const older = consumeUserRecords([aUsersRecord(1, [aUserAdded()])], MADE)(state);

    for (const decision of [again, older]) {
      expect(decision.result).toEqual({ queued: [], poisoned: [] });
      expect(decision.recipe).toBeUndefined();
    }
  });

  it('consumes only the records after the cursor from a batch that overlaps it', () => {
    const { next: state } = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1), aUsersRecord(2)], MADE));
    const late = aUserAdded({ id: 'u-late' });

    const { result, next } = run(state, consumeUserRecords([aUsersRecord(2, [aUserAdded({ id: 'u-stale' })]), aUsersRecord(3, [late])], MADE));

    expect(result.queued.map((d) => d.userId)).toEqual(['u-late']);
    expect(welcomeOf(next, 'u-stale')).toBeUndefined();
    expect(next.cursor).toBe(3);
  });

  it('queues one delivery for a user seen twice, in one batch or across batches', () => {
    const event = aUserAdded({ id: 'u-twice' });
    const { result, next } = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1, [event]), aUsersRecord(2, [event])], MADE));
    expect(result.queued).toHaveLength(1);

    const later = run(next, consumeUserRecords([aUsersRecord(3, [event])], MADE));
    expect(later.result).toEqual({ queued: [], poisoned: [] });
    expect(later.next.cursor).toBe(3);
    expect(deliveriesOf(later.next, 'u-twice')).toHaveLength(1);
  });

  it('advances the cursor past records without UserAdded events', () => {
    const { result, next } = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1, []), aUsersRecord(2, [{ type: 'Other' }])], MADE));

    expect(result).toEqual({ queued: [], poisoned: [] });
    expect(next.cursor).toBe(2);
    expect(poisonedEvents(next)).toEqual([]);
  });

  it('records an event it cannot read as poisoned, and queues the good ones around it in the same write', () => {
    const before = aUserAdded({ id: 'u-before' });
    const after = aUserAdded({ id: 'u-after' });
    const records = [aUsersRecord(1, [before]), aUsersRecord(2, [{ type: 'UserAdded', user: { id: 42 } }, after]), aUsersRecord(3, ['garbage'])];

    const { result, next } = run(aNotificationsState(), consumeUserRecords(records, MADE));

    expect(result.queued.map((d) => d.userId)).toEqual(['u-before', 'u-after']);
    expect(poisonedEvents(next)).toEqual([
      { version: 2, index: 0, reason: expect.stringMatching(/^malformed UserAdded: .*user\.id/), at: CREATED_AT },
      { version: 3, index: 0, reason: 'not an event: no type', at: CREATED_AT },
    ]);
    expect(result.poisoned).toEqual(poisonedEvents(next));
    expect(next.cursor).toBe(3);
    // Read again (a replayed batch), nothing is recorded twice.
    expect(run(next, consumeUserRecords(records, MADE)).result).toEqual({ queued: [], poisoned: [] });
  });
});

const A = { replica: 'replica-a', leaseMs: 60_000, until: '2024-05-01T12:01:00.000Z' };
const B = { replica: 'replica-b', leaseMs: 60_000, until: '2024-05-01T12:01:30.000Z' };
const SENT_AT = '2024-05-01T12:00:30.000Z';
const LEASE = { leaseMs: 60_000, until: '2024-05-01T12:02:00.000Z' };

/** `state` with d-1 claimed by `claimant`: the next state and the attempt's fence. */
const claimed = (claimant: Claimant = A, state: State = aNotificationsState([aDelivery({ id: 'd-1' })])) => {
  const { result, next } = run(state, beginAttempt('d-1', claimant));
  if (!result) throw new Error('not claimed');
  return { state: next, fence: result.fence };
};

/** `state` with d-1 taken over by B from A's claim, as B would after watching it expire. */
const takenOver = (state: State) => claimed({ ...B, takeOver: claimKey(deliveryById(state, 'd-1')!.claim!) }, state);

describe('beginAttempt', () => {
  it('claims a queued delivery for the replica with its lease, counts the attempt, and names the attempt in the fence', () => {
    const state = aNotificationsState([aDelivery({ id: 'd-1', attempts: 2 })]);
    const { result, next } = run(state, beginAttempt('d-1', A));

    expect(result?.delivery.id).toBe('d-1');
    expect(result?.fence).toEqual({ by: 'replica-a', attempt: 3 });
    expect(deliveryById(next, 'd-1')).toMatchObject({ attempts: 3, claim: { by: 'replica-a', attempt: 3, leaseMs: 60_000, renewals: 0, until: A.until } });
    expect(deliveryById(state, 'd-1')?.claim).toBeUndefined();
    expect(Object.isFrozen(deliveryById(next, 'd-1'))).toBe(true);
  });

  it.each(['SENT', 'FAILED'] as const)('returns undefined and writes nothing for a %s delivery', (status) => {
    const decision = beginAttempt('d-1', A)(aNotificationsState([aDelivery({ id: 'd-1', status })]));

    expect(decision.result).toBeUndefined();
    expect(decision.recipe).toBeUndefined();
  });

  it('returns undefined for an unknown delivery', () => {
    expect(beginAttempt('nope', A)(aNotificationsState()).result).toBeUndefined();
  });

  it("refuses, writing nothing, another replica's claim it has not watched expire", () => {
    const decision = beginAttempt('d-1', B)(claimed().state);

    expect(decision.result).toBeUndefined();
    expect(decision.recipe).toBeUndefined();
  });

  it('takes over only the very claim the replica watched expire: a renewal since makes it new', () => {
    const { state, fence } = claimed();
    const watched = claimKey(deliveryById(state, 'd-1')!.claim!);
    const renewed = run(state, renewClaim('d-1', fence, LEASE)).next;

    expect(beginAttempt('d-1', { ...B, takeOver: watched })(renewed).result).toBeUndefined();
    expect(run(state, beginAttempt('d-1', { ...B, takeOver: watched })).result?.fence).toEqual({ by: 'replica-b', attempt: 2 });
  });

  it('lets the claimer attempt again while its own claim runs', () => {
    const { result, next } = run(claimed().state, beginAttempt('d-1', A));

    expect(result?.fence).toEqual({ by: 'replica-a', attempt: 2 });
    expect(deliveryById(next, 'd-1')?.attempts).toBe(2);
  });

  it('keeps the Message-ID when another replica takes the delivery over', () => {
    const delivery = aDelivery({ id: 'd-1' });
    const { state } = claimed(A, aNotificationsState([delivery]));

    const { result } = run(state, beginAttempt('d-1', { ...B, takeOver: claimKey(deliveryById(state, 'd-1')!.claim!) }));

    expect(result?.delivery.messageId).toBe(delivery.messageId);
  });
});

describe('renewClaim', () => {
  it('renews the claim of the attempt that holds it: a new lease under a new key', () => {
    const { state, fence } = claimed();

    const { result, next } = run(state, renewClaim('d-1', fence, LEASE));

    expect(result).toBe(true);
    expect(deliveryById(next, 'd-1')?.claim).toEqual({ by: 'replica-a', attempt: 1, leaseMs: 60_000, renewals: 1, until: LEASE.until });
    expect(claimKey(deliveryById(next, 'd-1')!.claim!)).not.toBe(claimKey(deliveryById(state, 'd-1')!.claim!));
  });

  it('answers false, writing nothing, to a replica whose claim was taken over, and to an earlier attempt of the same replica', () => {
    const { state, fence } = claimed();
    const { state: again } = claimed(A, state);

    for (const after of [takenOver(state).state, again]) {
      const decision = renewClaim('d-1', fence, LEASE)(after);
      expect(decision.result).toBe(false);
      expect(decision.recipe).toBeUndefined();
    }
  });

  it.each(['sent', 'failed'] as const)('answers false once the delivery is settled (%s)', (kind) => {
    const { state, fence } = claimed();
    const outcome = kind === 'sent' ? { kind, at: SENT_AT } : { kind, error: '550 no' };
    const settled = run(state, recordOutcome('d-1', fence, outcome)).next;

    expect(renewClaim('d-1', fence, LEASE)(settled).result).toBe(false);
  });
});

describe('recordOutcome', () => {
  it('marks a sent delivery SENT with its time, clears the error and the claim', () => {
    const { state, fence } = claimed(A, aNotificationsState([aDelivery({ id: 'd-1', lastError: 'ECONNREFUSED' })]));

    const { result, next } = run(state, recordOutcome('d-1', fence, { kind: 'sent', at: SENT_AT }));

    expect(result).toBe(true);
    expect(deliveryById(next, 'd-1')).toMatchObject({ status: 'SENT', sentAt: SENT_AT, lastError: null, attempts: 1 });
    expect(deliveryById(next, 'd-1')?.claim).toBeUndefined();
    expect(queuedDeliveries(next)).toEqual([]);
  });

  it('keeps a delivery QUEUED with the error when it will be retried, its claim held for the claimer until then', () => {
    const { state, fence } = claimed();

    const { next } = run(state, recordOutcome('d-1', fence, { kind: 'retrying', error: '451 try later', hold: LEASE }));

    expect(deliveryById(next, 'd-1')).toMatchObject({ status: 'QUEUED', sentAt: null, lastError: '451 try later' });
    expect(deliveryById(next, 'd-1')?.claim).toEqual({ by: 'replica-a', attempt: 1, leaseMs: LEASE.leaseMs, renewals: 1, until: LEASE.until });
    expect(queuedDeliveries(next).map((d) => d.id)).toEqual(['d-1']);
  });

  it('marks a refused delivery FAILED with the reason, and clears the claim', () => {
    const { state, fence } = claimed();

    const { next } = run(state, recordOutcome('d-1', fence, { kind: 'failed', error: '550 no such user' }));

    expect(deliveryById(next, 'd-1')).toMatchObject({ status: 'FAILED', sentAt: null, lastError: '550 no such user' });
    expect(deliveryById(next, 'd-1')?.claim).toBeUndefined();
    expect(queuedDeliveries(next)).toEqual([]);
  });

  it.each([
    ['failed', { kind: 'failed', error: '550 duplicate Message-ID' }],
    ['retrying', { kind: 'retrying', error: 'ETIMEDOUT', hold: LEASE }],
  ] as const)('ignores a stale %s from a replica whose claim was taken over: the live replica settles it', (_, stale) => {
    const { state, fence: stalesFence } = claimed();
    const { state: taken, fence } = takenOver(state);

    const ignored = run(taken, recordOutcome('d-1', stalesFence, stale));
    const sent = run(ignored.next, recordOutcome('d-1', fence, { kind: 'sent', at: SENT_AT })).next;

    expect(ignored.result).toBe(false);
    expect(ignored.next).toBe(taken);
    expect(deliveryById(sent, 'd-1')).toMatchObject({ status: 'SENT', sentAt: SENT_AT, attempts: 2 });
    // And after the live replica's SENT, a stale FAILED changes nothing either.
    expect(run(sent, recordOutcome('d-1', stalesFence, { kind: 'failed', error: '550 no' })).next).toBe(sent);
  });

  it('records SENT from any attempt, since the server took the message, but never over an earlier SENT', () => {
    const { state, fence: stalesFence } = claimed();
    const { state: taken, fence } = takenOver(state);
    const failed = run(taken, recordOutcome('d-1', fence, { kind: 'failed', error: '550 duplicate Message-ID' })).next;

    const sentLate = run(failed, recordOutcome('d-1', stalesFence, { kind: 'sent', at: SENT_AT }));
    const twice = run(sentLate.next, recordOutcome('d-1', fence, { kind: 'sent', at: '2024-05-01T12:09:00.000Z' }));

    expect(deliveryById(sentLate.next, 'd-1')).toMatchObject({ status: 'SENT', sentAt: SENT_AT, lastError: null });
    expect(twice.result).toBe(false);
    expect(twice.next).toBe(sentLate.next);
  });
});

describe('the index of queued deliveries', () => {
  const ids = (state: State) => pendingDeliveries(state).map((d) => d.id).sort();

  it('holds what is QUEUED: queued, then out once SENT or FAILED, and in again when requeued', () => {
    const { next: queued } = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1, [aUserAdded({ id: 'u-1' }), aUserAdded({ id: 'u-2' })])], MADE));
    const sent = run(queued, recordOutcome('welcome-u-1', { by: 'replica-a', attempt: 1 }, { kind: 'sent', at: CREATED_AT })).next;
    const { result: begun, next: claimedState } = run(sent, beginAttempt('welcome-u-2', A));
    const failed = run(claimedState, recordOutcome('welcome-u-2', begun!.fence, { kind: 'failed', error: '550 no' })).next;
    const requeued = run(failed, resendWelcome('u-2', OPERATOR)).next;

    expect(ids(queued)).toEqual(['welcome-u-1', 'welcome-u-2']);
    expect(ids(sent)).toEqual(['welcome-u-2']);
    expect(ids(failed)).toEqual([]);
    expect(ids(requeued)).toEqual(['welcome-u-2']);
  });

});

describe('resendWelcome', () => {
  it('refuses a caller who is neither the user nor holds notifications:write with FORBIDDEN, before looking the user up', () => {
    const state = aNotificationsState([aDelivery({ userId: 'u-1', status: 'FAILED' })]);
    for (const viewer of [undefined, { userId: 'u-2', scopes: new Set(['users:read']) }]) {
      expect(resendWelcome('u-1', viewer)(state)).toEqual({ result: { delivery: null, errors: [expect.objectContaining({ code: 'FORBIDDEN' })] } });
      expect(resendWelcome('u-nobody', viewer)(state).result.errors[0]?.code).toBe('FORBIDDEN');
    }
    expect(resendWelcome('u-1', { userId: 'u-1', scopes: new Set() })(state).result.delivery?.status).toBe('QUEUED');
  });

  it('refuses a user without a welcome email with UNKNOWN_USER', () => {
    const decision = resendWelcome('u-nobody', OPERATOR)(aNotificationsState());
    expect(decision.result.errors.map((e) => e.code)).toEqual(['UNKNOWN_USER']);
    expect(decision.result.delivery).toBeNull();
    expect(decision.recipe).toBeUndefined();
  });

  it.each(['QUEUED', 'SENT'] as const)('refuses a %s welcome email with NOT_FAILED', (status) => {
    const decision = resendWelcome('u-1', OPERATOR)(aNotificationsState([aDelivery({ userId: 'u-1', status })]));
    expect(decision.result.errors.map((e) => e.code)).toEqual(['NOT_FAILED']);
    expect(decision.result.errors[0]?.message).toContain(status);
    expect(decision.recipe).toBeUndefined();
  });

  it('queues a FAILED welcome email again, with the same Message-ID', () => {
    const failed = aDelivery({ userId: 'u-1', status: 'FAILED', attempts: 3, lastError: '550 mailbox full' });
    const { result, next } = run(aNotificationsState([failed]), resendWelcome('u-1', OPERATOR));

    expect(result.errors).toEqual([]);
    expect(result.delivery).toMatchObject({ id: failed.id, status: 'QUEUED', messageId: failed.messageId });
    expect(welcomeOf(next, 'u-1')).toMatchObject({ status: 'QUEUED', messageId: failed.messageId });
    expect(welcomeOf(next, 'u-1')).toEqual(result.delivery);
    expect(queuedDeliveries(next).map((d) => d.id)).toEqual([failed.id]);
  });
});

describe('renderWelcomeEmail', () => {
  const name = `<script>alert("x")</script> & 'Bo'`;

  it('escapes the name in the HTML part', () => {
    const { html } = renderWelcomeEmail(name);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Bo&#39;');
  });

  it('keeps the name as typed in the text part and the subject', () => {
    const { text, subject } = renderWelcomeEmail(name);
    expect(text).toContain(`Hello ${name},`);
    expect(subject).toBe(`Welcome, ${name}!`);
  });
});
