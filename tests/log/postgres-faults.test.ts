import { randomUUID } from 'node:crypto';
import { LogUnavailableError, openPostgresBackend, type LogBackend, type LogRecord } from '../../lib/log';
import { openStore } from '../../lib/store';
import { emptyUsersState, signUp, usersAfter, type UsersEvent, type UsersState } from '../../subgraphs/users/src/domain';
import { aLogRecord } from '../helpers/builders';
import { describeWithPostgres, startPostgres, type PostgresCluster } from '../helpers/postgres';
import { freePort, spawnService } from '../helpers/processes';
import { silentLogger } from '../helpers/logs';
import { createPool } from '../../lib/postgres';

describeWithPostgres('PostgreSQL log backend when the database goes away', () => {
  let cluster: PostgresCluster;
  let databases = 0;
  const backends: LogBackend[] = [];
  beforeAll(async () => {
    cluster = await startPostgres();
  });
  afterEach(async () => {
    for (const backend of backends.splice(0)) await backend.close();
  });
  afterAll(() => cluster?.stop());

  const openBackend = async (url: string, pollMs = 60_000) => {
    const backend = await openPostgresBackend({ url, logger: silentLogger(), pollMs, timeoutMs: 1_000 });
    backends.push(backend);
    return backend;
  };
  const aSignUp = (email: string) => signUp({ name: 'Someone', email }, { id: randomUUID(), createdAt: new Date(0).toISOString() });

  it('ends a session left idle inside a transaction, so the locks of a client that vanished are released', async () => {
    const url = await cluster.createDatabase(`faults_${++databases}`);
    const vanished = createPool({ url, logger: silentLogger(), idleInTransactionMs: 300 });
    const other = createPool({ url, logger: silentLogger() });
    try {
      const client = await vanished.connect();
      client.on('error', () => undefined); // the server ends the session: expected
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock(42)');
      const tryLock = async () => (await other.query<{ locked: boolean }>('SELECT pg_try_advisory_lock(42) AS locked')).rows[0]!.locked;
      expect(await tryLock()).toBe(false);

      await new Promise((resolve) => setTimeout(resolve, 1_000));

      await expect(client.query('SELECT 1')).rejects.toThrow();
      client.release(true);
      expect(await tryLock()).toBe(true);
    } finally {
      await Promise.all([vanished.end(), other.end()]);
    }
  });

  it('says what to change when PostgreSQL has no connection left for the service (53300)', async () => {
    const url = await cluster.createDatabase(`faults_${++databases}`);
    const admin = createPool({ url, logger: silentLogger() });
    const limitedUrl = new URL(url);
    limitedUrl.username = `limited_${databases}`;
    await admin.query(`CREATE ROLE ${limitedUrl.username} LOGIN CONNECTION LIMIT 1`);
    await admin.query(`GRANT CREATE ON SCHEMA public TO ${limitedUrl.username}`);
    const holder = createPool({ url: limitedUrl.toString(), logger: silentLogger() });
    try {
      await holder.query('SELECT 1'); // holds the role's one connection, idle in the pool

      const opening = openPostgresBackend({ url: limitedUrl.toString(), logger: silentLogger(), timeoutMs: 1_000 });

      await expect(opening).rejects.toThrow(/too many connections for role .*\. PostgreSQL has all the connections it allows .* lower DATABASE_POOL_SIZE/);
    } finally {
      await holder.end();
      await admin.end();
    }
  });

  it('lets the server cancel a statement that overruns the timeout, so a timeout the caller sees means the statement did not happen', async () => {
    const url = await cluster.createDatabase(`faults_${++databases}`);
    const pool = createPool({ url, logger: silentLogger(), timeoutMs: 300 });
    try {
      await pool.query('CREATE TABLE t (n int)');

      const overrun = pool.query('INSERT INTO t SELECT 1 FROM pg_sleep(2)');

      // 57014 is query_canceled: the server rolled the insert back (the client's own timer would say "Query read timeout").
      await expect(overrun).rejects.toMatchObject({ code: '57014' });
      expect((await pool.query('SELECT count(*)::int AS n FROM t')).rows).toEqual([{ n: 0 }]);
    } finally {
      await pool.end();
    }
  });

  it('refuses to start with an error that names DATABASE_URL but not the password', async () => {
    const url = `postgres://app:hunter2@127.0.0.1:${await freePort()}/nowhere`;

    const opening = openPostgresBackend({ url, logger: silentLogger(), timeoutMs: 1_000 });

    await expect(opening).rejects.toThrow(/DATABASE_URL=postgres:\/\/app:\*\*\*@127\.0\.0\.1:\d+\/nowhere/);
    await expect(opening).rejects.not.toThrow(/hunter2/);
  });

  it('exits with 1 at start when DATABASE_URL points at no database, users and gateway alike, naming the variable and hiding the password', async () => {
    const url = `postgres://app:hunter2@127.0.0.1:${await freePort()}/nowhere`;
    for (const [name, entry] of [
      ['users', 'system/start-subgraph.ts users'],
      ['gateway', 'gateway/src/main.ts'],
    ]) {
      const service = spawnService(entry!, { DATABASE_URL: url, USERS_PORT: '0', GATEWAY_PORT: '0' });
      expect(await service.exited()).toBe(1);
      // The service logger masks what looks like an email address, so the host may show as [email].
      expect(service.output()).toMatch(new RegExp(`${name} failed to start[\\s\\S]*cannot use the database at DATABASE_URL=postgres://app:\\S+/nowhere`));
      expect(service.output()).not.toContain('hunter2');
    }
  });

  it('fails commands with LogUnavailableError while the database is down, and goes on by itself once it is back', async () => {
    const url = await cluster.createDatabase(`faults_${++databases}`);
    const store = await openStore<UsersState, UsersEvent>({ backend: await openBackend(url), stream: 'users', initial: emptyUsersState(), logger: silentLogger() });
    await store.execute(aSignUp('before@example.com'));

    await cluster.kill();
    try {
      await expect(store.execute(aSignUp('during@example.com'))).rejects.toBeInstanceOf(LogUnavailableError);
      await expect(store.execute(aSignUp('during-again@example.com'))).rejects.toBeInstanceOf(LogUnavailableError);
    } finally {
      await cluster.start();
    }
    const after = await store.execute(aSignUp('after@example.com'));

    expect(after.errors).toEqual([]);
    expect(store.state.count).toBe(2);
    expect(store.version).toBe(2);
    await store.close();
  });

  it('loses no acknowledged command of two replicas when the database crashes and restarts under them', async () => {
    const url = await cluster.createDatabase(`faults_${++databases}`);
    const openReplica = async () =>
      openStore<UsersState, UsersEvent>({ backend: await openBackend(url, 100), stream: 'users', initial: emptyUsersState(), logger: silentLogger() });
    const replicas = [await openReplica(), await openReplica()];
    const acknowledged: string[] = [];
    const unavailable: string[] = [];
    let restarted = false;
    let n = 0;
    let tenAcknowledged!: () => void;
    const ten = new Promise<void>((resolve) => (tenAcknowledged = resolve));
    // Each replica signs users up one after another until the database has been restarted and a few more went through.
    const client = async (replica: (typeof replicas)[number]) => {
      for (let after = 0; after < 5; ) {
        const email = `user${++n}@example.com`;
        try {
          const { errors } = await replica.execute(aSignUp(email));
          expect(errors).toEqual([]);
          if (acknowledged.push(email) === 10) tenAcknowledged();
          if (restarted) after++;
        } catch (error) {
          expect(error).toBeInstanceOf(LogUnavailableError);
          unavailable.push(email);
        }
      }
    };
    const clients = replicas.map(client);
    await ten;
    await cluster.restart();
    restarted = true;
    await Promise.all(clients);

    for (const replica of replicas) await replica.catchUp();
    const stored = (replica: (typeof replicas)[number]) => usersAfter(replica.state, 0, 1000).users.map((user) => user.email);
    expect(stored(replicas[1]!)).toEqual(stored(replicas[0]!));
    expect(stored(replicas[0]!)).toEqual(expect.arrayContaining(acknowledged));
    // A command whose append was in flight when the database went down may have landed: only those may be extra.
    expect(stored(replicas[0]!).filter((email) => !acknowledged.includes(email)).every((email) => unavailable.includes(email))).toBe(true);
    await Promise.all(replicas.map((replica) => replica.close()));
  });

  it('keeps following a stream after the database restarts: the LISTEN connection comes back by itself', async () => {
    const url = await cluster.createDatabase(`faults_${++databases}`);
    const writer = await (await openBackend(url)).openStream('users', { logger: silentLogger(), replay: () => undefined });
    // No polling to speak of: only notifications, and the catch-up after reconnecting, can deliver.
    const reader = await (await openBackend(url)).openStream('users', { logger: silentLogger(), replay: () => undefined });
    const seen: number[] = [];
    let reached: (() => void) | undefined;
    const follower = reader.follow(0, (records: LogRecord[]) => {
      seen.push(...records.map((record) => record.version));
      if (seen.includes(2)) reached?.();
    });
    const arrived = new Promise<void>((resolve) => (reached = resolve));
    await writer.append(aLogRecord(1));

    await cluster.restart();
    await writer.append(aLogRecord(2));
    await arrived;
    await follower.close();

    expect(seen).toEqual([1, 2]);
    await Promise.all([writer.close(), reader.close()]);
  });
});
