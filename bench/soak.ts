/**
 * Fault soak of "each new user gets exactly one welcome email": one users
 * subgraph and two notifications replicas on one PostgreSQL (durable), a real
 * SMTP server that refuses 10% of sessions and of transactions with 421, sign-ups at a steady rate,
 * and a chaos loop that pauses (SIGSTOP, sometimes past the delivery lease) or
 * kills -9 and restarts one notifications replica at a time. Once the faults
 * stop and the mail has drained, counts duplicates (by Message-ID and by
 * recipient) and missing emails. A measurement: exits 0 whatever it counts.
 * Run: npm run bench:soak (SOAK_SECONDS, default 600; SOAK_RATE sign-ups/s, default 20)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { startPostgres, type PostgresCluster } from '../tests/helpers/postgres';
import { freePort, isPortFree, spawnService, type ServiceProcess } from '../tests/helpers/processes';

const SECRET = 'bench-soak-secret-0123456789abcdef';
const DURATION_MS = Number(process.env.SOAK_SECONDS ?? 600) * 1000;
const RATE = Number(process.env.SOAK_RATE ?? 20);
const LEASE_MS = 5_000;
const REFUSE_SHARE = 0.1;
const DRAIN_TIMEOUT_MS = 120_000;
const LATE_DUPLICATES_MS = 10_000;
const READY_TIMEOUT_MS = 60_000;

const SIGN_UP = 'mutation($input: AddUserInput!) { addUser(input: $input) { user { id } errors { code } } }';

const began = performance.now();
const log = (message: string) => process.stderr.write(`[${((performance.now() - began) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
const between = (min: number, max: number) => min + Math.random() * (max - min);

// --- SMTP: a real server on loopback that refuses some sessions and records what it accepts

interface Received {
  readonly messageId: string;
  readonly to: string;
  /** The replica whose SMTP session handed it over (its SMTP user). */
  readonly by: string;
  /** Seconds since the soak began. */
  readonly at: number;
}

/** Every fault the chaos loop caused, when (seconds since the soak began). */
const faults: { readonly at: number; readonly what: string }[] = [];
const secondsNow = () => (performance.now() - began) / 1000;

const received: Received[] = [];
let refusing = true;
let refusedSessions = 0;
let refusedTransactions = 0;

const startSmtp = async () => {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    // Each replica logs in under its own id, so a duplicate shows who sent each copy.
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      callback(null, { user: auth.username });
    },
    // Replicas killed -9 or stopped leave pooled connections behind: do not wait for them on close.
    closeTimeout: 1_000,
    // Pooled clients open few sessions, so a transaction is refused too: 421 ends the session on the client's side.
    onConnect(_session, callback) {
      if (!refusing || Math.random() >= REFUSE_SHARE) return callback();
      refusedSessions++;
      callback(Object.assign(new Error('Too busy, try again later'), { responseCode: 421 }));
    },
    onMailFrom(_address, _session, callback) {
      if (!refusing || Math.random() >= REFUSE_SHARE) return callback();
      refusedTransactions++;
      callback(Object.assign(new Error('Too busy, try again later'), { responseCode: 421 }));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        simpleParser(Buffer.concat(chunks)).then((mail) => {
          const header = (Array.isArray(mail.to) ? mail.to[0] : mail.to)?.value[0]?.address;
          const to = (header ?? session.envelope.rcptTo[0]?.address ?? '').toLowerCase();
          received.push({ messageId: mail.messageId ?? '(none)', to, by: String(session.user ?? '?'), at: secondsNow() });
          callback();
        }, callback);
      });
    },
  });
  // A replica killed -9 resets its connections; the server reports that as an 'error', which unheard would end this script.
  server.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') log(`smtp server error: ${error.message}`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as AddressInfo;
  return { urlFor: (replica: string) => `smtp://${replica}:soak@127.0.0.1:${port}`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
};

// --- services

const started: ServiceProcess[] = [];
const tempDirs: string[] = [];

const tempDir = async (name: string) => {
  const dir = await mkdtemp(join(tmpdir(), `bench-soak-${name}-`));
  tempDirs.push(dir);
  return dir;
};

/** Starts `entry` and resolves once /health/ready answers 200 on `port`; rejects (and kills it) if it exits or takes too long. */
const startService = async (entry: string, port: number, env: Record<string, string>): Promise<ServiceProcess> => {
  const service = spawnService(entry, { NODE_ENV: 'production', LOG_LEVEL: 'warn', SUBGRAPH_SECRET: SECRET, ...env });
  started.push(service);
  for (const deadline = Date.now() + READY_TIMEOUT_MS; ; ) {
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then((response) => response.ok, () => false);
    if (ready) return service;
    if (Date.now() > deadline || service.child.exitCode !== null || service.child.signalCode !== null) {
      await service.kill();
      throw new Error(`${entry} on port ${port} did not become ready:\n${service.output().slice(-3000)}`);
    }
    await sleep(100);
  }
};

interface Replica {
  readonly id: string;
  readonly port: number;
  readonly env: Record<string, string>;
  service: ServiceProcess;
  paused: boolean;
  /** Set while this script kills it on purpose: any other exit is unexpected. */
  killing: boolean;
}

let unexpectedExits = 0;
let shuttingDown = false;

const watchExit = (replica: Replica) => {
  const service = replica.service;
  void service.exited().then((code) => {
    if (shuttingDown || replica.killing || replica.service !== service) return;
    unexpectedExits++;
    log(`${replica.id} exited by itself (${code}):\n${service.output().slice(-2000)}`);
  });
};

const isDead = (replica: Replica) => replica.service.child.exitCode !== null || replica.service.child.signalCode !== null;

const startReplica = async (replica: Omit<Replica, 'service'> & { service?: ServiceProcess }): Promise<Replica> => {
  // The dead process has been reaped (exited() resolved) but the kernel may still hold its listening socket a moment.
  for (const deadline = Date.now() + 10_000; !(await isPortFree(replica.port)); ) {
    if (Date.now() > deadline) throw new Error(`port ${replica.port} of ${replica.id} still taken 10 s after it was killed`);
    await sleep(100);
  }
  replica.service = await startService('system/start-subgraph.ts notifications', replica.port, replica.env);
  replica.killing = false;
  watchExit(replica as Replica);
  return replica as Replica;
};

/** Up to three attempts: a replica that will not come back is reported, then the soak ends. */
const restart = async (replica: Replica) => {
  for (let attempt = 1; ; attempt++) {
    const at = performance.now();
    try {
      await startReplica(replica);
      log(`${replica.id} ready again after ${((performance.now() - at) / 1000).toFixed(1)} s`);
      return;
    } catch (error) {
      log(`${replica.id} restart ${attempt} failed: ${(error as Error).message}`);
      if (attempt === 3) throw error;
    }
  }
};

// --- load

const acknowledged = new Map<string, string>();
let signUpFailures = 0;

const signUp = async (url: string, n: number) => {
  const email = `soak${n}@example.com`;
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-subgraph-secret': SECRET },
      body: JSON.stringify({ query: SIGN_UP, variables: { input: { name: `Soak ${n}`, email } } }),
      signal: AbortSignal.timeout(15_000),
    });
    const answer = (await response.json()) as { data?: { addUser?: { user?: { id?: string } | null } | null } };
    const id = answer.data?.addUser?.user?.id;
    if (id) acknowledged.set(email, id);
    else signUpFailures++;
  } catch {
    signUpFailures++;
  }
};

/** `RATE` sign-ups a second on a fixed schedule (not waiting for answers) until `durationMs` has passed or `signal` aborts; then waits for the answers. */
const load = async (url: string, durationMs: number, signal: AbortSignal) => {
  const pending = new Set<Promise<void>>();
  const start = performance.now();
  for (let n = 1; !signal.aborted; n++) {
    const at = start + ((n - 1) * 1000) / RATE;
    if (at - start >= durationMs) break;
    const wait = at - performance.now();
    if (wait > 0) await sleep(wait);
    const request = signUp(url, n).finally(() => pending.delete(request));
    pending.add(request);
  }
  await Promise.all(pending);
};

// --- chaos

const actions = { pause: 0, pausePastLease: 0, kill: 0 };

/** Until `signal` aborts: every 2-6 s, one fault on one replica, each over (resumed, or restarted and ready) before the next. */
const chaos = async (replicas: readonly Replica[], signal: AbortSignal) => {
  const wait = (ms: number) => sleep(ms, undefined, { signal }).then(() => true, () => false);
  while (await wait(between(2_000, 6_000))) {
    // A replica that died by itself comes back first: never both down.
    for (const replica of replicas) if (isDead(replica) && !replica.killing) await restart(replica);
    const replica = replicas[Math.floor(Math.random() * replicas.length)]!;
    const pid = replica.service.child.pid!;
    if (Math.random() < 0.5) {
      const ms = between(1_000, 8_000);
      actions.pause++;
      if (ms > LEASE_MS) actions.pausePastLease++;
      faults.push({ at: secondsNow(), what: `SIGSTOP ${replica.id} for ${(ms / 1000).toFixed(1)} s` });
      log(`SIGSTOP ${replica.id} for ${(ms / 1000).toFixed(1)} s${ms > LEASE_MS ? ' (past the lease)' : ''}`);
      process.kill(-pid, 'SIGSTOP');
      replica.paused = true;
      await wait(ms);
      process.kill(-pid, 'SIGCONT');
      replica.paused = false;
      log(`SIGCONT ${replica.id}`);
    } else {
      actions.kill++;
      faults.push({ at: secondsNow(), what: `kill -9 ${replica.id}` });
      log(`kill -9 ${replica.id}`);
      replica.killing = true;
      await replica.service.kill();
      await restart(replica);
    }
  }
};

// --- summary

/** Every warning or worse the services logged, counted by message (a killed process's last lines may be cut). */
const serviceWarnings = () => {
  const counts: Record<string, number> = {};
  for (const service of started) {
    for (const line of service.output().split('\n')) {
      if (!line.trim()) continue;
      let message = line.slice(0, 120);
      try {
        const record = JSON.parse(line) as { msg?: string; level?: number };
        message = `${record.level ?? '?'} ${record.msg ?? '(no msg)'}`;
      } catch {
        // not pino's JSON: counted by its text
      }
      counts[message] = (counts[message] ?? 0) + 1;
    }
  }
  return counts;
};

/** The copies a recipient got (who, when) and the faults in the ten seconds before the last copy. */
const explainDuplicate = (to: string) => {
  const copies = received.filter((mail) => mail.to === to);
  const last = copies.at(-1)!.at;
  return {
    to,
    copies: copies.map((mail) => `${mail.by} at ${mail.at.toFixed(2)} s (${mail.messageId})`),
    faultsBefore: faults.filter((fault) => fault.at <= last && fault.at >= copies[0]!.at - 10).map((fault) => `${fault.what} at ${fault.at.toFixed(2)} s`),
  };
};

const summarize = (drainSeconds: number | undefined) => {
  const perMessageId = new Map<string, number>();
  const perRecipient = new Map<string, number>();
  for (const { messageId, to } of received) {
    perMessageId.set(messageId, (perMessageId.get(messageId) ?? 0) + 1);
    perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
  }
  const beyondFirst = (counts: Map<string, number>) => [...counts.values()].reduce((sum, count) => sum + count - 1, 0);
  const missing = [...acknowledged.keys()].filter((email) => !perRecipient.has(email));
  const unacknowledged = [...perRecipient.keys()].filter((email) => !acknowledged.has(email));
  return {
    durationSeconds: DURATION_MS / 1000,
    ratePerSecond: RATE,
    chaosActions: { ...actions },
    unexpectedReplicaExits: unexpectedExits,
    usersAcknowledged: acknowledged.size,
    signUpFailures,
    emailsReceived: received.length,
    uniqueRecipients: perRecipient.size,
    duplicatesByMessageId: beyondFirst(perMessageId),
    duplicatesByRecipient: beyondFirst(perRecipient),
    duplicates: [...perRecipient].filter(([, count]) => count > 1).map(([to]) => explainDuplicate(to)),
    missing: missing.length,
    missingSample: missing.slice(0, 10),
    recipientsNotAcknowledged: unacknowledged.length,
    sessionsRefused421: refusedSessions,
    transactionsRefused421: refusedTransactions,
    drainSeconds: drainSeconds ?? null,
    node: process.version,
  };
};

/**
 * The window left (from the last claim check before a message is handed over
 * to the server's 250), from the surviving replicas' histograms: a replica
 * killed -9 took its own with it.
 */
const handOverWidth = async (replicas: readonly Replica[]) => {
  const buckets = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const replica of replicas) {
    const text = await fetch(`http://127.0.0.1:${replica.port}/metrics`).then((response) => response.text(), () => '');
    for (const line of text.split('\n')) {
      const bucket = /^email_handover_seconds_bucket\{le="([^"]+)".*\} (\d+)$/.exec(line);
      if (bucket && bucket[1] !== '+Inf') buckets.set(Number(bucket[1]), (buckets.get(Number(bucket[1])) ?? 0) + Number(bucket[2]));
      const total = /^email_handover_seconds_(count|sum)\{.*\} ([\d.e+-]+)$/.exec(line);
      if (total?.[1] === 'count') count += Number(total[2]);
      if (total?.[1] === 'sum') sum += Number(total[2]);
    }
  }
  /** The smallest bucket bound that holds `share` of the samples: an upper bound of that quantile. */
  const atMost = (share: number) => [...buckets].sort((a, b) => a[0] - b[0]).find(([, below]) => below >= share * count)?.[0] ?? null;
  return { samples: count, meanMs: count ? (sum / count) * 1000 : null, p50AtMostMs: ms(atMost(0.5)), p99AtMostMs: ms(atMost(0.99)) };
};
const ms = (seconds: number | null) => (seconds === null ? null : seconds * 1000);

// --- main

let cluster: PostgresCluster | undefined;
let smtp: Awaited<ReturnType<typeof startSmtp>> | undefined;
let cleaning: Promise<void> | undefined;

const cleanup = () =>
  (cleaning ??= (async () => {
    shuttingDown = true;
    // SIGKILL reaches stopped processes too.
    await Promise.all(started.map((service) => service.kill()));
    await smtp?.close();
    await cluster?.stop();
    await Promise.all(tempDirs.map((dir) => rm(dir, { recursive: true, force: true })));
  })());

const main = async () => {
  log(`soak: ${DURATION_MS / 1000} s at ${RATE} sign-ups/s, node ${process.version}`);
  cluster = await startPostgres({ durable: true });
  const databaseUrl = await cluster.createDatabase('soak');
  smtp = await startSmtp();

  const usersPort = await freePort();
  await startService('system/start-subgraph.ts users', usersPort, {
    DATABASE_URL: databaseUrl,
    DATA_DIR: await tempDir('users'),
    USERS_PORT: String(usersPort),
  });
  const replicas: Replica[] = [];
  for (const id of ['notifications-a', 'notifications-b']) {
    const port = await freePort();
    const env = {
      DATABASE_URL: databaseUrl,
      DATA_DIR: await tempDir(id),
      NOTIFICATIONS_PORT: String(port),
      SMTP_URL: smtp.urlFor(id),
      MAIL_FROM: 'Welcome <welcome@soak.test>',
      REPLICA_ID: id,
      DELIVERY_LEASE_MS: String(LEASE_MS),
      DELIVERY_SCAN_MS: '1000',
      SMTP_RETRY_BASE_MS: '200',
      SMTP_RETRY_MAX_MS: '5000',
    };
    replicas.push(await startReplica({ id, port, env, paused: false, killing: false }));
  }
  log(`users on ${usersPort}, ${replicas.map((replica) => `${replica.id} on ${replica.port}`).join(', ')}, smtp ${smtp.urlFor("<replica>")}`);

  const stopChaos = new AbortController();
  const stopLoad = new AbortController();
  // A crash of the chaos loop (a replica that will not restart) ends the load early, and the soak with it.
  const faults = chaos(replicas, stopChaos.signal).catch((error: unknown) => {
    stopLoad.abort();
    throw error;
  });
  faults.catch(() => undefined); // handled by the `await faults` below, once the load has stopped
  await load(`http://127.0.0.1:${usersPort}/graphql`, DURATION_MS, stopLoad.signal);
  stopChaos.abort();
  await faults;

  for (const replica of replicas) {
    if (replica.paused) process.kill(-replica.service.child.pid!, 'SIGCONT');
    replica.paused = false;
    if (isDead(replica)) await restart(replica);
  }
  refusing = false;
  log(`faults over: ${acknowledged.size} sign-ups acknowledged, ${new Set(received.map((mail) => mail.to)).size} recipients so far; draining`);

  const drainStart = performance.now();
  let drainSeconds: number | undefined;
  while (performance.now() - drainStart < DRAIN_TIMEOUT_MS) {
    if (new Set(received.map((mail) => mail.to)).size >= acknowledged.size) {
      drainSeconds = (performance.now() - drainStart) / 1000;
      break;
    }
    await sleep(250);
  }
  log(drainSeconds === undefined ? `not drained after ${DRAIN_TIMEOUT_MS / 1000} s` : `drained in ${drainSeconds.toFixed(1)} s; waiting ${LATE_DUPLICATES_MS / 1000} s for late duplicates`);
  await sleep(LATE_DUPLICATES_MS);

  const handOver = await handOverWidth(replicas);
  const summary = { ...summarize(drainSeconds), handOver };
  const warnings = serviceWarnings();
  console.log(`# soak: ${summary.durationSeconds} s at ${summary.ratePerSecond} sign-ups/s, node ${summary.node}`);
  console.log(`chaos actions:            ${summary.chaosActions.pause} SIGSTOP/SIGCONT (${summary.chaosActions.pausePastLease} past the ${LEASE_MS / 1000} s lease), ${summary.chaosActions.kill} kill -9 + restart`);
  console.log(`unexpected replica exits: ${summary.unexpectedReplicaExits}`);
  console.log(`users acknowledged:       ${summary.usersAcknowledged} (${summary.signUpFailures} sign-ups failed)`);
  console.log(`emails received:          ${summary.emailsReceived}`);
  console.log(`unique recipients:        ${summary.uniqueRecipients}`);
  console.log(`duplicates by Message-ID: ${summary.duplicatesByMessageId}`);
  console.log(`duplicates by recipient:  ${summary.duplicatesByRecipient}`);
  for (const duplicate of summary.duplicates) {
    console.log(`  ${duplicate.to}: ${duplicate.copies.join('; ')}; faults around: ${duplicate.faultsBefore.join('; ') || 'none'}`);
  }
  console.log(`missing:                  ${summary.missing}${summary.missing ? ` (e.g. ${summary.missingSample.join(', ')})` : ''}`);
  console.log(`recipients not acked:     ${summary.recipientsNotAcknowledged}`);
  console.log(`refused with 421:         ${summary.sessionsRefused421} sessions at connect, ${summary.transactionsRefused421} at MAIL FROM`);
  console.log(
    `hand-over window:         ${handOver.samples} sends, mean ${handOver.meanMs?.toFixed(2) ?? '-'} ms, p50 <= ${handOver.p50AtMostMs ?? '-'} ms, p99 <= ${handOver.p99AtMostMs ?? '-'} ms (claim check to 250)`,
  );
  console.log(`drained in:               ${summary.drainSeconds === null ? `not within ${DRAIN_TIMEOUT_MS / 1000} s` : `${summary.drainSeconds.toFixed(1)} s`}`);
  console.log('service log lines (level msg: count):');
  for (const [message, count] of Object.entries(warnings).sort((a, b) => b[1] - a[1])) console.log(`  ${count} × ${message}`);
  console.log(JSON.stringify({ ...summary, serviceLogLines: warnings }));
};

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    log(`${signal}: cleaning up`);
    void cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  });
}

main()
  .catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
