import type { Immutable } from 'immer';
import { createMemoryBackend, LogUnavailableError, type LogBackend, type StreamLog } from '../../lib/log';
import { openStore, type Store } from '../../lib/store';
import { startDeliveryWorker, type DeliveryWorker } from '../../subgraphs/notifications/src/delivery-worker';
import {
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
const RETRY = { baseMs: 20, maxMs: 100 };

/** A backend whose next append, once armed, fails as if the database went away before answering. */
const withFlakyAppends = (backend: LogBackend) => {
  let armed = false;
  const flaky = (log: StreamLog): StreamLog => ({
    get version() {
      return log.version;
    },
    get sinceSnapshot() {
      return log.sinceSnapshot;
    },
    append(record) {
      if (!armed) return log.append(record);
      armed = false;
      return Promise.reject(new LogUnavailableError('the database did not answer'));
    },
    read: (after, onRecords) => log.read(after, onRecords),
    follow: (after, onRecords) => log.follow(after, onRecords),
    snapshot: (version, chunks) => log.snapshot(version, chunks),
    close: () => log.close(),
  });
  return {
    backend: { ...backend, openStream: async (name, options) => flaky(await backend.openStream(name, options)) } satisfies LogBackend,
    failNextAppend: () => {
      armed = true;
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

  /** One replica: its own store on the shared backend, its own SMTP pool and worker, and a clock `clockOffsetMs` ahead. */
  const aReplica = async (backend: LogBackend, replica: string, { clockOffsetMs = 0, onSent = () => {} } = {}): Promise<Replica> => {
    const store = await openStore<NotificationsState, never>({ backend, stream: 'notifications', initial: emptyNotificationsState(), logger: silentLogger() });
    const smtpMailer = createMailer({ smtpUrl: smtp.url, from: 'Welcome <welcome@mail.test>', outboxDir: '', logger: silentLogger() });
    const mailer: Mailer = {
      send: async (email) => {
        const reply = await smtpMailer.send(email);
        onSent();
        return reply;
      },
      close: () => smtpMailer.close(),
    };
    const now = () => new Date(Date.now() + clockOffsetMs);
    const worker = startDeliveryWorker({ store, mailer, logger: silentLogger(), retry: RETRY, now, replica, leaseMs: LEASE_MS });
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

  it('takes over a delivery whose claim has expired and sends it with the same Message-ID', async () => {
    const backend = createMemoryBackend();
    const a = await aReplica(backend, 'replica-a');
    // b's clock is past a's lease: to b, a's claim has expired.
    const b = await aReplica(backend, 'replica-b', { clockOffsetMs: LEASE_MS + 1_000 });
    // a's message is taken and never answered: a hangs inside the send window.
    smtp.setMode('stall');
    const id = await queueWelcome(a);
    a.worker.schedule(id);
    await smtp.waitForMessages(1);

    smtp.setMode('accept');
    await b.store.catchUp();
    expect(deliveryById(b.store.state, id)?.claim?.by).toBe('replica-a');
    b.worker.schedule(id);
    const sent = await settled(b, id);

    const [stalled, resent] = await smtp.waitForMessages(2);
    expect(resent!.messageId).toBe(stalled!.messageId);
    expect(sent).toMatchObject({ status: 'SENT', attempts: 2, messageId: stalled!.messageId });
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
