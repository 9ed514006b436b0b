import { freeze, produce, type Immutable } from 'immer';
import type { LogRecord } from '../../lib/log';
import { emptyNotificationsState, type Delivery, type NotificationsState, type UserAdded } from '../../subgraphs/notifications/src/domain';
import { emptyUsersState, type User, type UsersState } from '../../subgraphs/users/src/domain';
import type { NewUserInput } from '../../subgraphs/users/src/domain/validation';
import { addUser } from '../../subgraphs/users/src/domain/recipes';
import { queueDeliveries } from '../../subgraphs/notifications/src/domain/recipes';

let counter = 0;
const nextNumber = () => ++counter;

export const CREATED_AT = '2024-05-01T12:00:00.000Z';

/** A valid sign-up input; every call gets a distinct email. */
export const aSignUp = (overrides: Partial<NewUserInput> = {}): NewUserInput => {
  const n = nextNumber();
  return { name: `User ${n}`, email: `user${n}@example.com`, ...overrides };
};

/** What the resolver makes before calling `signUp`: an id and a timestamp. */
export const made = (overrides: Partial<{ id: string; createdAt: string }> = {}) => ({
  id: `user-${nextNumber()}`,
  createdAt: CREATED_AT,
  ...overrides,
});

/** A stored user; `seq` defaults to 1, so pass it when building several. */
export const aUser = (overrides: Partial<User> = {}): User => {
  const n = nextNumber();
  return { id: `user-${n}`, name: `User ${n}`, email: `user${n}@example.com`, createdAt: CREATED_AT, seq: 1, ...overrides };
};

/** A frozen users state holding `users` in the order given (their `seq` is set to their position). */
export const aUsersState = (users: readonly Partial<User>[] = []): Immutable<UsersState> =>
  users.reduce<Immutable<UsersState>>(
    (state, user, i) => produce(state, (draft) => addUser(draft, aUser({ ...user, seq: i + 1 }))),
    freeze(emptyUsersState(), true),
  );

export const aDelivery = (overrides: Partial<Delivery> = {}): Delivery => {
  const userId = overrides.userId ?? `user-${nextNumber()}`;
  const id = overrides.id ?? `welcome-${userId}`;
  return {
    id,
    userId,
    kind: 'WELCOME',
    to: `${userId}@example.com`,
    toName: 'Ada',
    subject: 'Welcome, Ada!',
    status: 'QUEUED',
    attempts: 0,
    createdAt: CREATED_AT,
    sentAt: null,
    messageId: `<${id}@mail.test>`,
    lastError: null,
    ...overrides,
  };
};

/** A frozen notifications state holding `deliveries`, with its cursor at `cursor`. */
export const aNotificationsState = (deliveries: readonly Delivery[] = [], cursor = 0): Immutable<NotificationsState> =>
  produce(freeze(emptyNotificationsState(), true) as Immutable<NotificationsState>, (draft) =>
    queueDeliveries(draft, deliveries, cursor),
  );

export const aUserAdded = (user: Partial<UserAdded['user']> = {}): UserAdded => {
  const n = nextNumber();
  return { type: 'UserAdded', user: { id: `user-${n}`, name: `User ${n}`, email: `user${n}@example.com`, createdAt: CREATED_AT, ...user } };
};

/** A users-log record as the notifications consumer reads it. */
export const aUsersRecord = (version: number, events: readonly unknown[] = [aUserAdded()]): LogRecord => ({
  version,
  patches: [],
  events,
});

/** A file-log record with an easily recognised payload. */
export const aLogRecord = (version: number, payload: unknown = { n: version }): LogRecord => ({
  version,
  patches: [{ op: 'replace', path: ['value'], value: payload }],
  events: [{ type: 'Test', version }],
});
