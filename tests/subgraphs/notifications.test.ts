import type { ApolloServer } from '@apollo/server';
import { NotificationsErrorCode } from '../../subgraphs/notifications/src/errors';
import { createNotificationsServer } from '../../subgraphs/notifications/src/server';
import type { Context } from '../../subgraphs/notifications/src/context';
import {
  beginAttempt,
  consumeUserRecords,
  emptyNotificationsState,
  recordOutcome,
  welcomeDeliveryId,
  type NotificationsState,
  type UserAdded,
} from '../../subgraphs/notifications/src/domain';
import { openTempStore, singleResult, type TempStore } from '../helpers/subgraph-context';
import { silentLogger } from '../helpers/logs';

type DeliveryView = {
  id: string;
  kind: string;
  to: string;
  subject: string;
  status: string;
  attempts: number;
  sentAt: string | null;
  messageId: string | null;
  lastError: string | null;
};
type UserView = {
  id: string;
  welcomeEmail: DeliveryView | null;
  notifications: DeliveryView[];
};
type ResendData = {
  resendWelcomeEmail: { delivery: DeliveryView | null; errors: { code: string; message: string }[] };
};

const DELIVERY_FIELDS = 'id kind to subject status attempts sentAt messageId lastError';
const ENTITIES = /* GraphQL */ `
  query Entities($representations: [_Any!]!) {
    _entities(representations: $representations) {
      ... on User {
        id
        welcomeEmail { ${DELIVERY_FIELDS} }
        notifications { ${DELIVERY_FIELDS} }
      }
    }
  }
`;
const RESEND = /* GraphQL */ `
  mutation Resend($userId: ID!) {
    resendWelcomeEmail(userId: $userId) {
      delivery { ${DELIVERY_FIELDS} }
      errors { code message }
    }
  }
`;

const ADA: UserAdded['user'] = { id: 'user-1', name: 'Ada', email: 'ada@example.com', createdAt: '2024-05-01T12:00:00.000Z' };
const WELCOME_ID = welcomeDeliveryId(ADA.id);
const QUEUED_WELCOME: DeliveryView = {
  id: WELCOME_ID,
  kind: 'WELCOME',
  to: 'ada@example.com',
  subject: 'Welcome, Ada!',
  status: 'QUEUED',
  attempts: 0,
  sentAt: null,
  messageId: `<${WELCOME_ID}@signup.test>`,
  lastError: null,
};

let server: ApolloServer<Context>;
let temp: TempStore<NotificationsState, never>;
let sendSoonCalls: string[];
let context: Context;

beforeAll(async () => {
  server = createNotificationsServer();
  await server.start();
});
afterAll(async () => {
  await server.stop();
});

beforeEach(async () => {
  temp = await openTempStore<NotificationsState, never>(emptyNotificationsState());
  sendSoonCalls = [];
  // Most tests act as an operator; "who may read what" below acts as everyone else.
  context = {
    store: temp.store,
    logger: silentLogger(),
    sendSoon: (id) => void sendSoonCalls.push(id),
    viewer: { userId: undefined, scopes: new Set(['users:read', 'notifications:write']) },
  };
  const added: UserAdded = { type: 'UserAdded', user: ADA };
  await temp.store.execute(consumeUserRecords([{ version: 1, events: [added] }], { now: '2024-05-01T12:00:01.000Z', messageIdDomain: 'signup.test' }));
});
afterEach(async () => {
  await temp.dispose();
});

/** `as`: the caller, when it is not the operator every other test acts as. */
const run = async <T extends Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}, as: Pick<Context, 'viewer'> = context) =>
  singleResult(await server.executeOperation<T>({ query, variables }, { contextValue: { ...context, viewer: as.viewer } }));

const entity = async (id: string) => {
  const result = await run<{ _entities: (UserView | null)[] }>(ENTITIES, { representations: [{ __typename: 'User', id }] });
  expect(result.errors).toBeUndefined();
  return result.data!._entities[0];
};

const resend = async (userId: string, as: Pick<Context, 'viewer'> = context) => {
  const result = await run<ResendData>(RESEND, { userId }, as);
  expect(result.errors).toBeUndefined();
  return result.data!.resendWelcomeEmail;
};

const CLAIMANT = { replica: 'replica-a', leaseMs: 60_000, until: '2024-05-01T12:01:00.000Z' };

const failWelcome = async (error: string) => {
  const begun = await temp.store.execute(beginAttempt(WELCOME_ID, CLAIMANT));
  await temp.store.execute(recordOutcome(WELCOME_ID, begun!.fence, { kind: 'failed', error }));
};

describe('User entity', () => {
  it('resolves the welcome email and notifications of a user the service has learnt of', async () => {
    expect(await entity(ADA.id)).toEqual({ id: ADA.id, welcomeEmail: QUEUED_WELCOME, notifications: [QUEUED_WELCOME] });
  });

  it('shows a sent welcome email with its attempts and sentAt', async () => {
    const begun = await temp.store.execute(beginAttempt(WELCOME_ID, CLAIMANT));
    await temp.store.execute(recordOutcome(WELCOME_ID, begun!.fence, { kind: 'sent', at: '2024-05-01T12:00:02.000Z' }));

    const sent = { ...QUEUED_WELCOME, status: 'SENT', attempts: 1, sentAt: '2024-05-01T12:00:02.000Z' };
    expect(await entity(ADA.id)).toEqual({ id: ADA.id, welcomeEmail: sent, notifications: [sent] });
  });

  it('returns a null welcomeEmail and no notifications for a user unknown to the service', async () => {
    expect(await entity('nobody')).toEqual({ id: 'nobody', welcomeEmail: null, notifications: [] });
  });

  it('publishes its SDL with the User @key through _service', async () => {
    const result = await run<{ _service: { sdl: string } }>('{ _service { sdl } }');

    expect(result.errors).toBeUndefined();
    expect(result.data!._service.sdl).toMatch(/type User\s+@key\(fields: "id"\)/);
  });
});

describe('resendWelcomeEmail', () => {
  it('refuses a user without a welcome email with UNKNOWN_USER and sends nothing', async () => {
    const before = temp.store.version;

    const payload = await resend('nobody');

    expect(payload).toEqual({ delivery: null, errors: [{ code: 'UNKNOWN_USER', message: expect.stringContaining('nobody') }] });
    expect(sendSoonCalls).toEqual([]);
    expect(temp.store.version).toBe(before);
  });

  it('refuses a welcome email that is still queued with NOT_FAILED and sends nothing', async () => {
    const before = temp.store.version;

    const payload = await resend(ADA.id);

    expect(payload).toEqual({ delivery: null, errors: [{ code: 'NOT_FAILED', message: expect.stringContaining('QUEUED') }] });
    expect(sendSoonCalls).toEqual([]);
    expect(temp.store.version).toBe(before);
  });

  it('queues a FAILED welcome email again and asks for it to be sent soon', async () => {
    await failWelcome('550 mailbox unavailable');
    expect((await entity(ADA.id))!.welcomeEmail).toMatchObject({ status: 'FAILED', attempts: 1, lastError: '550 mailbox unavailable' });

    const payload = await resend(ADA.id);

    const requeued = { ...QUEUED_WELCOME, attempts: 1, lastError: '550 mailbox unavailable' };
    expect(payload).toEqual({ delivery: requeued, errors: [] });
    expect(sendSoonCalls).toEqual([WELCOME_ID]);
    expect((await entity(ADA.id))!.welcomeEmail).toEqual(requeued);
  });

  it('refuses a second resend while the first is still queued', async () => {
    await failWelcome('timeout');
    await resend(ADA.id);

    const payload = await resend(ADA.id);

    expect(payload.errors.map((error) => error.code)).toEqual(['NOT_FAILED']);
    expect(sendSoonCalls).toEqual([WELCOME_ID]);
  });
});

describe('error catalog', () => {
  it('answers with every code of NotificationsErrorCode', async () => {
    const produced = [...(await resend('nobody')).errors, ...(await resend(ADA.id)).errors, ...(await resend(ADA.id, { viewer: undefined })).errors].map(
      (error) => error.code,
    );
    expect(new Set(produced)).toEqual(new Set(Object.values(NotificationsErrorCode)));
  });
});

describe('who may read what, checked by the notifications subgraph itself', () => {
  const ada = { userId: ADA.id, scopes: new Set<string>() };
  const grace = { userId: 'user-2', scopes: new Set<string>() };

  it("shows a user their own emails, and refuses another user's and a stranger's with FORBIDDEN", async () => {
    const own = await run<{ _entities: UserView[] }>(ENTITIES, { representations: [{ __typename: 'User', id: ADA.id }] }, { viewer: ada });
    expect(own.errors).toBeUndefined();
    expect(own.data!._entities[0]!.welcomeEmail!.to).toBe('ada@example.com');
    for (const viewer of [grace, undefined]) {
      const result = await run<{ _entities: UserView[] }>(ENTITIES, { representations: [{ __typename: 'User', id: ADA.id }] }, { viewer });
      expect(result.data!._entities[0]).toEqual({ id: ADA.id, welcomeEmail: null, notifications: null });
      expect(result.errors!.map((error) => [error.path, error.extensions?.code])).toEqual([
        [['_entities', 0, 'welcomeEmail'], 'FORBIDDEN'],
        [['_entities', 0, 'notifications'], 'FORBIDDEN'],
      ]);
    }
  });

  it('resends a failed welcome email for its own user, and for notifications:write, and for nobody else', async () => {
    await failWelcome('550 mailbox unavailable');
    const before = temp.store.version;
    for (const viewer of [grace, { userId: 'user-2', scopes: new Set(['users:read']) }, undefined]) {
      expect(await resend(ADA.id, { viewer })).toEqual({ delivery: null, errors: [{ code: 'FORBIDDEN', message: expect.stringContaining('notifications:write') }] });
    }
    expect(temp.store.version).toBe(before);
    expect(sendSoonCalls).toEqual([]);

    expect((await resend(ADA.id, { viewer: ada })).delivery?.status).toBe('QUEUED');
    expect(sendSoonCalls).toEqual([WELCOME_ID]);
  });

  it('lists the poisoned users events for notifications:write, and refuses everyone else with FORBIDDEN', async () => {
    await temp.store.execute(consumeUserRecords([{ version: 2, events: [{ type: 'UserAdded', user: null }] }], { now: ADA.createdAt, messageIdDomain: 'mail.test' }));
    const POISONED = '{ poisonedUserEvents { version index reason at } }';

    const operator = await run<{ poisonedUserEvents: unknown[] }>(POISONED, {}, { viewer: { userId: undefined, scopes: new Set(['notifications:write']) } });
    expect(operator.data!.poisonedUserEvents).toEqual([{ version: 2, index: 0, reason: expect.stringContaining('malformed UserAdded'), at: ADA.createdAt }]);
    for (const viewer of [ada, { userId: undefined, scopes: new Set(['users:read']) }, undefined]) {
      const refused = await run(POISONED, {}, { viewer });
      expect(refused.errors!.map((error) => error.extensions?.code)).toEqual(['FORBIDDEN']);
    }
  });
});
