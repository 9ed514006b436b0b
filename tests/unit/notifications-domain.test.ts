import { enablePatches, produceWithPatches, type Draft, type Immutable } from 'immer';
import type { Command } from '../../lib/store';
import {
  beginAttempt,
  consumeUserRecords,
  deliveriesOf,
  deliveryById,
  pendingDeliveries,
  queuedDeliveries,
  recordOutcome,
  renderWelcomeEmail,
  renewClaim,
  resendWelcome,
  welcomeDeliveryId,
  welcomeOf,
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

    expect(result.map((d) => d.userId)).toEqual(['u-ada', 'u-bo']);
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
    const first = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1, [event])], MADE)).result[0]!;
    const again = run(aNotificationsState(), consumeUserRecords([aUsersRecord(7, [event])], { ...MADE, now: '2030-01-01T00:00:00.000Z' }))
      .result[0]!;

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
      expect(decision.result).toEqual([]);
      expect(decision.recipe).toBeUndefined();
    }
  });

  it('consumes only the records after the cursor from a batch that overlaps it', () => {
    const { next: state } = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1), aUsersRecord(2)], MADE));
    const late = aUserAdded({ id: 'u-late' });

    const { result, next } = run(state, consumeUserRecords([aUsersRecord(2, [aUserAdded({ id: 'u-stale' })]), aUsersRecord(3, [late])], MADE));

    expect(result.map((d) => d.userId)).toEqual(['u-late']);
    expect(welcomeOf(next, 'u-stale')).toBeUndefined();
    expect(next.cursor).toBe(3);
  });

  it('queues one delivery for a user seen twice, in one batch or across batches', () => {
    const event = aUserAdded({ id: 'u-twice' });
    const { result, next } = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1, [event]), aUsersRecord(2, [event])], MADE));
    expect(result).toHaveLength(1);

    const later = run(next, consumeUserRecords([aUsersRecord(3, [event])], MADE));
    expect(later.result).toEqual([]);
    expect(later.next.cursor).toBe(3);
    expect(deliveriesOf(later.next, 'u-twice')).toHaveLength(1);
  });

  it('advances the cursor past records without UserAdded events', () => {
    const { result, next } = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1, []), aUsersRecord(2, [{ type: 'Other' }])], MADE));

    expect(result).toEqual([]);
    expect(next.cursor).toBe(2);
  });
});

describe('beginAttempt', () => {
  it('counts an attempt on a queued delivery', () => {
    const state = aNotificationsState([aDelivery({ id: 'd-1', attempts: 2 })]);
    const { result, next } = run(state, beginAttempt('d-1'));

    expect(result?.id).toBe('d-1');
    expect(deliveryById(next, 'd-1')?.attempts).toBe(3);
    expect(deliveryById(state, 'd-1')?.attempts).toBe(2);
  });

  it.each(['SENT', 'FAILED'] as const)('returns undefined and writes nothing for a %s delivery', (status) => {
    const state = aNotificationsState([aDelivery({ id: 'd-1', status })]);
    const decision = beginAttempt('d-1')(state);

    expect(decision.result).toBeUndefined();
    expect(decision.recipe).toBeUndefined();
  });

  it('returns undefined for an unknown delivery', () => {
    expect(beginAttempt('nope')(aNotificationsState()).result).toBeUndefined();
  });
});

describe('beginAttempt with a claimant (replicas)', () => {
  const A = { replica: 'replica-a', now: '2024-05-01T12:00:00.000Z', until: '2024-05-01T12:01:00.000Z' };
  const B = { replica: 'replica-b', now: '2024-05-01T12:00:30.000Z', until: '2024-05-01T12:01:30.000Z' };

  it('claims a queued delivery for the replica until the end of its lease, and counts the attempt', () => {
    const state = aNotificationsState([aDelivery({ id: 'd-1' })]);
    const { result, next } = run(state, beginAttempt('d-1', A));

    expect(result?.id).toBe('d-1');
    expect(deliveryById(next, 'd-1')).toMatchObject({ attempts: 1, claim: { by: 'replica-a', until: A.until } });
    expect(deliveryById(state, 'd-1')?.claim).toBeUndefined();
    expect(Object.isFrozen(deliveryById(next, 'd-1'))).toBe(true);
  });

  it('refuses, writing nothing, while another replica holds an unexpired claim', () => {
    const { next: claimed } = run(aNotificationsState([aDelivery({ id: 'd-1' })]), beginAttempt('d-1', A));

    const decision = beginAttempt('d-1', B)(claimed);

    expect(decision.result).toBeUndefined();
    expect(decision.recipe).toBeUndefined();
  });

  it('lets the claimer attempt again while its own claim runs', () => {
    const { next: claimed } = run(aNotificationsState([aDelivery({ id: 'd-1' })]), beginAttempt('d-1', A));

    const { result, next } = run(claimed, beginAttempt('d-1', { ...A, now: '2024-05-01T12:00:10.000Z' }));

    expect(result?.id).toBe('d-1');
    expect(deliveryById(next, 'd-1')?.attempts).toBe(2);
  });

  it('lets another replica take over a claim whose lease has expired', () => {
    const { next: claimed } = run(aNotificationsState([aDelivery({ id: 'd-1' })]), beginAttempt('d-1', A));
    const later = { replica: 'replica-b', now: '2024-05-01T12:01:00.001Z', until: '2024-05-01T12:02:00.001Z' };

    const { result, next } = run(claimed, beginAttempt('d-1', later));

    expect(result?.id).toBe('d-1');
    expect(deliveryById(next, 'd-1')).toMatchObject({ attempts: 2, claim: { by: 'replica-b', until: later.until } });
  });

  it('keeps the Message-ID when another replica takes the delivery over', () => {
    const delivery = aDelivery({ id: 'd-1' });
    const { next: claimed } = run(aNotificationsState([delivery]), beginAttempt('d-1', A));

    const { result } = run(claimed, beginAttempt('d-1', { replica: 'replica-b', now: A.until, until: '2024-05-01T12:02:00.000Z' }));

    expect(result?.messageId).toBe(delivery.messageId);
  });

  it('extends the claimer\'s lease while its conversation runs, and tells a replica whose claim was taken over', () => {
    const { next: claimed } = run(aNotificationsState([aDelivery({ id: 'd-1' })]), beginAttempt('d-1', A));
    const later = '2024-05-01T12:01:20.000Z';

    const renewed = run(claimed, renewClaim('d-1', { by: 'replica-a', until: later }));
    const byOther = renewClaim('d-1', { by: 'replica-b', until: later })(claimed);
    const shorter = renewClaim('d-1', { by: 'replica-a', until: A.now })(claimed);

    expect(renewed.result).toBe(true);
    expect(deliveryById(renewed.next, 'd-1')?.claim).toEqual({ by: 'replica-a', until: later });
    expect(byOther.result).toBe(false);
    expect(byOther.recipe).toBeUndefined();
    expect(shorter.recipe).toBeUndefined();
  });

  it('clears the claim once the delivery is SENT or FAILED', () => {
    const { next: claimed } = run(aNotificationsState([aDelivery({ id: 'd-1' })]), beginAttempt('d-1', A));

    const sent = run(claimed, recordOutcome('d-1', { kind: 'sent', at: B.now })).next;
    const failed = run(claimed, recordOutcome('d-1', { kind: 'failed', error: '550 no' })).next;

    expect(deliveryById(sent, 'd-1')?.claim).toBeUndefined();
    expect(deliveryById(failed, 'd-1')?.claim).toBeUndefined();
  });

  it('holds a delivery that will be retried for its claimer until the retry, unless another replica took it over', () => {
    const { next: claimed } = run(aNotificationsState([aDelivery({ id: 'd-1' })]), beginAttempt('d-1', A));
    const hold = { by: 'replica-a', until: '2024-05-01T12:00:05.000Z' };

    const held = run(claimed, recordOutcome('d-1', { kind: 'retrying', error: '421 later', hold })).next;
    const takenOver = run(claimed, beginAttempt('d-1', { replica: 'replica-b', now: A.until, until: '2024-05-01T12:03:00.000Z' })).next;
    const late = run(takenOver, recordOutcome('d-1', { kind: 'retrying', error: '421 later', hold })).next;

    expect(deliveryById(held, 'd-1')?.claim).toEqual(hold);
    expect(deliveryById(late, 'd-1')?.claim?.by).toBe('replica-b');
  });

  it('records nothing for an outcome that arrives after another replica settled the delivery', () => {
    const state = aNotificationsState([aDelivery({ id: 'd-1', status: 'SENT', sentAt: B.now })]);

    const decision = recordOutcome('d-1', { kind: 'retrying', error: 'timeout' })(state);

    expect(decision.recipe).toBeUndefined();
  });
});

describe('the index of queued deliveries', () => {
  const ids = (state: State) => pendingDeliveries(state).map((d) => d.id).sort();

  it('holds what is QUEUED: queued, then out once SENT or FAILED, and in again when requeued', () => {
    const { next: queued } = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1, [aUserAdded({ id: 'u-1' }), aUserAdded({ id: 'u-2' })])], MADE));
    const sent = run(queued, recordOutcome('welcome-u-1', { kind: 'sent', at: CREATED_AT })).next;
    const failed = run(sent, recordOutcome('welcome-u-2', { kind: 'failed', error: '550 no' })).next;
    const requeued = run(failed, resendWelcome('u-2', OPERATOR)).next;

    expect(ids(queued)).toEqual(['welcome-u-1', 'welcome-u-2']);
    expect(ids(sent)).toEqual(['welcome-u-2']);
    expect(ids(failed)).toEqual([]);
    expect(ids(requeued)).toEqual(['welcome-u-2']);
  });

  it('works on a state written before the index existed: its deliveries settle, new ones are indexed', () => {
    const { next: queued } = run(aNotificationsState(), consumeUserRecords([aUsersRecord(1, [aUserAdded({ id: 'u-old' })])], MADE));
    const { queuedIds: _dropped, ...withoutIndex } = queued;
    const old = withoutIndex as State;

    const sent = run(old, recordOutcome('welcome-u-old', { kind: 'sent', at: CREATED_AT })).next;
    const later = run(sent, consumeUserRecords([aUsersRecord(2, [aUserAdded({ id: 'u-new' })])], MADE)).next;

    expect(ids(old)).toEqual([]);
    expect(deliveryById(sent, 'welcome-u-old')?.status).toBe('SENT');
    expect(ids(later)).toEqual(['welcome-u-new']);
  });
});

describe('recordOutcome', () => {
  const state = aNotificationsState([aDelivery({ id: 'd-1', attempts: 1, lastError: 'ECONNREFUSED' })]);

  it('marks a sent delivery SENT with its time and clears the last error', () => {
    const { next } = run(state, recordOutcome('d-1', { kind: 'sent', at: '2024-05-01T12:01:00.000Z' }));
    expect(deliveryById(next, 'd-1')).toMatchObject({ status: 'SENT', sentAt: '2024-05-01T12:01:00.000Z', lastError: null, attempts: 1 });
  });

  it('keeps a delivery QUEUED with the error when it will be retried', () => {
    const { next } = run(state, recordOutcome('d-1', { kind: 'retrying', error: '421 try later' }));
    expect(deliveryById(next, 'd-1')).toMatchObject({ status: 'QUEUED', sentAt: null, lastError: '421 try later' });
    expect(queuedDeliveries(next).map((d) => d.id)).toEqual(['d-1']);
  });

  it('marks a refused delivery FAILED with the reason', () => {
    const { next } = run(state, recordOutcome('d-1', { kind: 'failed', error: '550 no such user' }));
    expect(deliveryById(next, 'd-1')).toMatchObject({ status: 'FAILED', sentAt: null, lastError: '550 no such user' });
    expect(queuedDeliveries(next)).toEqual([]);
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
