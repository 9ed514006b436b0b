import type { Immutable } from 'immer';
import { createMemoryBackend, LogUnavailableError, VersionConflictError, type LogBackend, type StreamLog } from '../../lib/log';
import { DEFAULT_CONFLICT_POLICY, openStore, type Store } from '../../lib/store';
import { startDeliveryWorker, type DeliveryWorker } from '../../subgraphs/notifications/src/delivery-worker';
import {
  beginAttempt,
  consumeUserRecords,
  deliveryById,
  emptyNotificationsState,
  welcomeDeliveryId,
  type Delivery,
  type NotificationsState,
} from '../../subgraphs/notifications/src/domain';
import { createMailer, type Mailer } from '../../subgraphs/notifications/src/mailer';
import { aUserAdded, aUsersRecord, CREATED_AT } from '../helpers/builders';
import { eventually } from '../helpers/graphql';
import { silentLogger } from '../helpers/logs';
import { startSmtpServer, type TestSmtpServer } from '../helpers/smtp';

const LEASE_MS = 60_000;
const RETRY = { baseMs: 20, maxMs: 100, maxAgeMs: 3_600_000 };
/** The lease of the takeover tests: short, so a takeover comes within seconds. */
const SHORT_LEASE_MS = 1_000;

/** `backend` with every stream's appends made through `append`. */
const withAppends = (backend: LogBackend, append: (log: StreamLog, record: Parameters<StreamLog['append']>[0]) => ReturnType<StreamLog['append']>): LogBackend => ({
  ...backend,
  openStream: async (name, options) => {
    const log = await backend.openStream(name, options);
    return {
      get version() {
        return log.version;
      },
      get sinceSnapshot() {
        return log.sinceSnapshot;
      },
      append: (record) => append(log, record),
      read: (after, onRecords) => log.read(after, onRecords),
      follow: (after, onRecords) => log.follow(after, onRecords),
      snapshot: (version, chunks) => log.snapshot(version, chunks),
      close: () => log.close(),
    };
  },
});

/** A backend whose next append, once armed, fails as if the database went away before answering. */
const withFlakyAppends = (backend: LogBackend) => {
  let armed = false;
  return {
    backend: withAppends(backend, (log, record) => {
      if (!armed) return log.append(record);
      armed = false;
      return Promise.reject(new LogUnavailableError('the database did not answer'));
    }),
    failNextAppend: () => {
      armed = true;
    },
  };
};

/** A backend whose next appends, once armed, lose their race every time until the store gives the command up. */
const withLostRaces = (backend: LogBackend) => {
  let losses = 0;
  return {
    backend: withAppends(backend, (log, record) => {
      if (losses === 0) return log.append(record);
      losses -= 1;
      return Promise.reject(new VersionConflictError('notifications', record.version));
    }),
    loseNextRaces: () => {
      losses = DEFAULT_CONFLICT_POLICY.limit;
    },
  };
};

/** A backend whose appends, while paused, wait until resumed: the writes of a process that stopped running. */
const withPausableAppends = (backend: LogBackend) => {
  let paused: Promise<void> | undefined;
  let release = () => {};
  return {
    backend: withAppends(backend, async (log, record) => {
      await paused;
      return log.append(record);
    }),
    pause: () => {
      paused ??= new Promise<void>((resolve) => (release = resolve));
    },
    resume: () => {
      paused = undefined;
      release();
    },
  };
};

describe('delivery claims between notifications replicas', () => {
  let smtp: TestSmtpServer;
  const closers: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    smtp = await startSmtpServer();
  });

  afterEach(async () => {
    // The SMTP server goes first: a conversation it stalled then ends, and the worker can stop.
    await Promise.all([smtp.close(), ...closers.splice(0).map((close) => close())]);
  });

  interface Replica {
    readonly store: Store<NotificationsState, never>;
    readonly worker: DeliveryWorker;
  }

  /** One replica: its own store on the shared backend, its own SMTP pool and worker, and a wall clock `clockOffsetMs` ahead. */
  const aReplica = async (
    backend: LogBackend,
    replica: string,
    { clockOffsetMs = 0, leaseMs = LEASE_MS, onSent = () => {}, beforeSend = async () => {} } = {},
  ): Promise<Replica> => {
    const store = await openStore<NotificationsState, never>({ backend, stream: 'notifications', initial: emptyNotificationsState(), logger: silentLogger() });
    const smtpMailer = createMailer({ smtpUrl: smtp.url, from: 'Welcome <welcome@mail.test>', outboxDir: '', logger: silentLogger() });
    const mailer: Mailer = {
      send: async (email, control) => {
        await beforeSend();
        const reply = await smtpMailer.send(email, control);
        onSent();
        return reply;
      },
      close: () => smtpMailer.close(),
    };
    const now = () => new Date(Date.now() + clockOffsetMs);
    const worker = startDeliveryWorker({ store, mailer, logger: silentLogger(), retry: RETRY, now, replica, leaseMs });
    closers.push(async () => {
      mailer.close();
      await worker.close();
      await store.close();
    });
    return { store, worker };
  };

  /** Queues one welcome email through `replica`'s store, as its consumer would; returns the delivery id. */
  const queueWelcome = async ({ store }: Replica): Promise<string> => {
    const user = aUserAdded();
    await store.execute(consumeUserRecords([aUsersRecord(store.state.cursor + 1, [user])], { now: CREATED_AT, messageIdDomain: 'mail.test' }));
    return welcomeDeliveryId(user.user.id);
  };

  const settled = (replica: Replica, id: string): Promise<Immutable<Delivery> | undefined> =>
    eventually(
      async () => deliveryById(replica.store.state, id),
      (delivery) => delivery?.status === 'SENT',
    );

  it('sends once when two replicas try the same delivery at the same moment: the claim picks one', async () => {
    const backend = createMemoryBackend();
    const [a, b] = [await aReplica(backend, 'replica-a'), await aReplica(backend, 'replica-b')];
    const ids = [await queueWelcome(a), await queueWelcome(a), await queueWelcome(a)];
    await b.store.catchUp();

    for (const id of ids) {
      a.worker.schedule(id);
      b.worker.schedule(id);
    }
    for (const id of ids) await settled(a, id);
    await Promise.all([a.worker.close(), b.worker.close()]);

    expect(smtp.messages).toHaveLength(ids.length);
    expect(ids.map((id) => deliveryById(a.store.state, id)?.attempts)).toEqual(ids.map(() => 1));
    expect(ids.map((id) => deliveryById(a.store.state, id)?.claim)).toEqual(ids.map(() => undefined));
  });

  /** Claims `id` for `replica` as its worker would, then leaves it: a replica that died or stopped renewing. */
  const claimAndVanish = async (backend: LogBackend, id: string, replica: string) => {
    const store = await openStore<NotificationsState, never>({ backend, stream: 'notifications', initial: emptyNotificationsState(), logger: silentLogger() });
    await store.execute(beginAttempt(id, { replica, leaseMs: SHORT_LEASE_MS, until: new Date(Date.now() + SHORT_LEASE_MS).toISOString() }));
    await store.close();
  };

  it('takes over a claim that stopped being renewed once it has watched it for a lease, and sends with the same Message-ID', async () => {
    const backend = createMemoryBackend();
    const b = await aReplica(backend, 'replica-b', { leaseMs: SHORT_LEASE_MS });
    const id = await queueWelcome(b);
    await claimAndVanish(backend, id, 'replica-a');
    await b.store.catchUp();

    b.worker.schedule(id);
    await new Promise((resolve) => setTimeout(resolve, SHORT_LEASE_MS / 2));
    expect(deliveryById(b.store.state, id)).toMatchObject({ status: 'QUEUED', claim: { by: 'replica-a' } });
    expect(smtp.messages).toHaveLength(0);

    const sent = await settled(b, id);
    expect(sent).toMatchObject({ status: 'SENT', attempts: 2, messageId: `<${id}@mail.test>` });
    expect(smtp.messages.map((mail) => mail.messageId)).toEqual([sent!.messageId]);
  });

  it("does not shorten another replica's lease when its own wall clock runs far ahead", async () => {
    const backend = createMemoryBackend();
    // To b's wall clock, a's claim ended an hour ago; only b's monotonic clock counts.
    const b = await aReplica(backend, 'replica-b', { leaseMs: SHORT_LEASE_MS, clockOffsetMs: 3_600_000 });
    const id = await queueWelcome(b);
    await claimAndVanish(backend, id, 'replica-a');
    await b.store.catchUp();

    b.worker.schedule(id);
    await new Promise((resolve) => setTimeout(resolve, SHORT_LEASE_MS / 2));
    expect(deliveryById(b.store.state, id)?.claim?.by).toBe('replica-a');
    expect(smtp.messages).toHaveLength(0);

    expect(await settled(b, id)).toMatchObject({ status: 'SENT', attempts: 2 });
    expect(smtp.messages).toHaveLength(1);
  });

  it('gives the attempt up at the hand-over when its claim was taken over meanwhile: one email, SENT by the replica that holds it', async () => {
    const backend = createMemoryBackend();
    // a stalls between its claim and the SMTP conversation, its renewals stalled with it: a process paused (SIGSTOP, GC).
    const { backend: pausable, pause, resume } = withPausableAppends(backend);
    let resumed!: () => void;
    const aResumes = new Promise<void>((resolve) => (resumed = resolve));
    let aStalled!: () => void;
    const aIsStalled = new Promise<void>((resolve) => (aStalled = resolve));
    const a = await aReplica(pausable, 'replica-a', {
      leaseMs: SHORT_LEASE_MS,
      beforeSend: async () => {
        pause();
        aStalled();
        await aResumes;
      },
    });
    closers.push(async () => {
      resume();
      resumed();
    });
    const b = await aReplica(backend, 'replica-b', { leaseMs: SHORT_LEASE_MS });
    const id = await queueWelcome(a);

    a.worker.schedule(id);
    await aIsStalled;
    await b.store.catchUp();
    expect(deliveryById(b.store.state, id)?.claim?.by).toBe('replica-a');
    b.worker.schedule(id);
    const sent = await settled(b, id);
    expect(sent).toMatchObject({ status: 'SENT', attempts: 2 });
    expect(sent?.claim).toBeUndefined();

    resume();
    resumed();
    await a.worker.close();
    await a.store.catchUp();

    expect(smtp.messages).toHaveLength(1);
    expect(deliveryById(a.store.state, id)).toMatchObject({ status: 'SENT', attempts: 2, sentAt: sent!.sentAt });
  });

  it('records SENT again, and never mails twice, when other writers win every race for the log right after a send', async () => {
    const { backend, loseNextRaces } = withLostRaces(createMemoryBackend());
    const a = await aReplica(backend, 'replica-a', { leaseMs: SHORT_LEASE_MS, onSent: loseNextRaces });
    const b = await aReplica(backend, 'replica-b', { leaseMs: SHORT_LEASE_MS });
    const id = await queueWelcome(a);
    await b.store.catchUp();

    a.worker.schedule(id);
    const sent = await settled(a, id);
    // Past a lease: had `a` left its SENT unrecorded, `b` would have taken the delivery over and sent it again.
    b.worker.schedule(id);
    await new Promise((resolve) => setTimeout(resolve, 2 * SHORT_LEASE_MS));

    expect(sent).toMatchObject({ status: 'SENT', attempts: 1 });
    expect(smtp.messages).toHaveLength(1);
  });

  it('records SENT again, and never mails twice, when the log is out of reach right after a send', async () => {
    const { backend, failNextAppend } = withFlakyAppends(createMemoryBackend());
    const a = await aReplica(backend, 'replica-a', { onSent: failNextAppend });
    const id = await queueWelcome(a);

    a.worker.schedule(id);
    const sent = await settled(a, id);
    await a.worker.close();

    expect(smtp.messages).toHaveLength(1);
    expect(sent).toMatchObject({ status: 'SENT', attempts: 1 });
  });
});
