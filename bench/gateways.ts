/**
 * The whole request path, measured from the outside against peer gateways.
 * Gateways run alone on CPU 0; the subgraphs, SMTP and the load generator
 * (this process) on CPU 1. Every answer is checked equal across gateways
 * before it is loaded; rounds alternate between the cases; medians are shown.
 *
 *   npm run bench:gateway                   # 3 rounds of 8 s per case, about 8 minutes
 *   BENCH_SECONDS=3 BENCH_ROUNDS=1 npm run bench:gateway   # a quick look
 */
import { isDeepStrictEqual } from 'node:util';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { createServer } from 'node:http';
import { SMTPServer } from 'smtp-server';
import pino from 'pino';
import { DEV_AUDIENCE, mintDevToken, startDevIssuer } from '../gateway/src/auth/dev-issuer';
import { IDENTITY_HEADER, identitySigner } from '../lib/service';
import { startGrafbase, startHive, ROOT, type SubgraphUrls } from './peers';
import { cpuSeconds, freePort, startProcess, waitUntil, type BenchProcess } from './processes';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_SECONDS = Math.min(2, SECONDS);
const CONNECTIONS = 32;
const SIGNUP_CLIENTS = 64;
const SEED_USERS = 20;
const SECRET = 'benchmark-subgraph-secret-0123456789';
// Counted from /proc/cpuinfo, not the affinity mask: this process itself runs pinned to CPU 1.
const pinned = cpus().length >= 2;
const GATEWAY_CPU = pinned ? '0' : undefined;
const REST_CPU = pinned ? '1' : undefined;
// The services as `npm run start:*` runs them: the build in dist/ (`npm run bench:gateway` builds it first).
const NODE = [process.execPath, '--max-semi-space-size=32', '--enable-source-maps'];
/** `npm run start:subgraph -- <name>`'s entry under dist/, and its argument. */
const START_SUBGRAPH = (name: string): [string, string] => ['system/start-subgraph.js', name];
// BENCH_CPU_PROF=1: each service of this project writes a V8 CPU profile (pid in the name) to .data/profiles on exit.
const PROFILE = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(ROOT, '.data', 'profiles')}`] : [];

// Q1 and Q2 read addresses, so this gateway is sent an operator's token (users:read) with each; Q3 reads only
// what anyone may, with and without a token, to show what verifying and enforcing costs.
const Q1 = '{ users(first: 20) { edges { node { id name email } } } }';
const Q2 = '{ users(first: 20) { edges { node { id name email welcomeEmail { status sentAt } } } } }';
const q3 = (id: string) => `{ user(id: "${id}") { id name createdAt } }`;
const SIGN_UP = 'mutation SignUp($input: AddUserInput!) { addUser(input: $input) { user { id } errors { code } } }';

mkdirSync(join(ROOT, '.data'), { recursive: true });
const dataRoot = mkdtempSync(join(ROOT, '.data', 'bench-gateways-'));
let keepData = Boolean(process.env.BENCH_KEEP_DATA);

interface Endpoint {
  readonly name: string;
  readonly url: string;
  readonly headers: Record<string, string>;
  /** The process whose CPU time is "gateway" (none when the subgraph is called directly). */
  readonly gateway?: BenchProcess;
  readonly users: BenchProcess;
  readonly notifications?: BenchProcess;
}

const post = async (endpoint: Endpoint, body: unknown): Promise<{ status: number; text: string }> => {
  const response = await fetch(endpoint.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...endpoint.headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, text: await response.text() };
};

// --- the system under test --------------------------------------------------

/** Where the traced stacks export their spans: an OTLP/HTTP endpoint that takes every batch and reads none. */
let spanBatches = 0;
const spanSink = createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    spanBatches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});

let emailsAccepted = 0;
const smtp = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  closeTimeout: 1_000,
  onData(stream, _session, callback) {
    stream.resume();
    stream.on('end', () => {
      emailsAccepted++;
      callback();
    });
  },
});

/** users, notifications and the gateway of this project, as separate production processes, verifying tokens of `issuer`. */
const startStack = async (label: string, issuer: string, env: Record<string, string>) => {
  const dir = join(dataRoot, label);
  const [gatewayPort, usersPort, notificationsPort] = [await freePort(), await freePort(), await freePort()];
  const urls: SubgraphUrls = {
    users: `http://127.0.0.1:${usersPort}/graphql`,
    notifications: `http://127.0.0.1:${notificationsPort}/graphql`,
  };
  const common = {
    ...process.env,
    NODE_ENV: 'production',
    LOG_LEVEL: 'info',
    DATA_DIR: dir,
    SUBGRAPH_SECRET: SECRET,
    SMTP_URL: `smtp://127.0.0.1:${(smtp.server.address() as { port: number }).port}`,
    GATEWAY_HOST: '127.0.0.1',
    GATEWAY_PORT: String(gatewayPort),
    USERS_PORT: String(usersPort),
    NOTIFICATIONS_PORT: String(notificationsPort),
    USERS_URL: urls.users,
    NOTIFICATIONS_URL: urls.notifications,
    SIGNUP_RATE_PER_IP: '1000000000',
    SIGNUP_RATE_GLOBAL: '1000000000',
    AUTH_ISSUER: issuer,
    AUTH_AUDIENCE: DEV_AUDIENCE,
    ...env,
  };
  mkdirSync(dir, { recursive: true });
  const start = (name: string, [file, ...args]: readonly [string, ...string[]], cpu: string | undefined) =>
    startProcess(`${label} ${name}`, [...NODE, ...PROFILE, join(ROOT, 'dist', file), ...args], { env: common, cpu, logFile: join(dir, `${name}.log`), cwd: ROOT });
  const users = start('users', START_SUBGRAPH('users'), REST_CPU);
  const notifications = start('notifications', START_SUBGRAPH('notifications'), REST_CPU);
  const gateway = start('gateway', ['gateway/src/main.js'], GATEWAY_CPU);
  for (const port of [usersPort, notificationsPort, gatewayPort]) {
    await waitUntil(`${label} :${port}`, async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).ok, 60_000);
  }
  return { urls, users, notifications, gateway, gatewayUrl: `http://127.0.0.1:${gatewayPort}/` };
};

// --- load ------------------------------------------------------------------

interface Case {
  readonly key: string;
  readonly endpoint: Endpoint;
  readonly connections: number;
  /** A fixed query, whose every answer must be byte-equal to the one checked; or sign-ups with unique emails. */
  readonly load: { readonly query: string; readonly expect: string } | { readonly signUps: true };
}

interface Sample {
  readonly rps: number;
  readonly p99: number;
  readonly gatewayUs: number;
  readonly usersUs: number;
  readonly notificationsUs: number;
  readonly failures: number;
  readonly why: string;
}

let uniques = 0;
const signUpBody = () =>
  JSON.stringify({ query: SIGN_UP, variables: { input: { name: 'Bench User', email: `bench-${process.pid}-${++uniques}@example.com` } } });

const run = async (c: Case, seconds: number): Promise<Sample> => {
  const { endpoint } = c;
  const cpu = (process: BenchProcess | undefined) => (process ? cpuSeconds(process.child.pid!) : 0);
  const before = [cpu(endpoint.gateway), cpu(endpoint.users), cpu(endpoint.notifications)];
  let refused = 0;
  let wrong = 0;
  const expected = 'expect' in c.load ? c.load.expect : undefined;
  const headers = { 'content-type': 'application/json', ...endpoint.headers };
  const result = await autocannon({
    url: endpoint.url,
    connections: c.connections,
    duration: seconds,
    method: 'POST',
    headers,
    ...('signUps' in c.load
      ? {
          requests: [
            {
              method: 'POST',
              setupRequest: (request) => ({ ...request, body: signUpBody() }),
              onResponse: (status, body) => {
                if (status !== 200 || !body.includes('"errors":[]')) refused++;
              },
            },
          ],
        }
      : {
          requests: [
            {
              method: 'POST',
              body: JSON.stringify({ query: c.load.query }),
              onResponse: (status, body) => {
                if (status === 200 && body === expected) return;
                // The first wrong answer of a round is shown: what differs says more than a count.
                if (!wrong++) process.stderr.write(`${c.key}: HTTP ${status}, unexpected answer: ${body.slice(0, 400)}\n`);
              },
            },
          ],
        }),
  });
  const after = [cpu(endpoint.gateway), cpu(endpoint.users), cpu(endpoint.notifications)];
  const answered = result['2xx'] + result.non2xx;
  const perRequest = (i: number) => (answered ? ((after[i]! - before[i]!) / answered) * 1e6 : NaN);
  return {
    rps: answered / result.duration,
    p99: result.latency.p99,
    gatewayUs: perRequest(0),
    usersUs: perRequest(1),
    notificationsUs: perRequest(2),
    failures: result.errors + result.timeouts + refused + wrong,
    why: `errors ${result.errors}, timeouts ${result.timeouts}, sign-ups refused ${refused}, wrong answers ${wrong} (non-2xx ${result.non2xx})`,
  };
};

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/**
 * Waits until no welcome email has arrived for half a second (at most a
 * minute): the backlog one sign-up round leaves would otherwise load CPU 1
 * during the next case's round.
 */
const emailsSettled = async () => {
  const deadline = performance.now() + 60_000;
  for (let seen = -1; seen !== emailsAccepted && performance.now() < deadline; ) {
    seen = emailsAccepted;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
};

// --- checks ------------------------------------------------------------------

/** The answer of `endpoint` to `query`, refused unless it equals `reference` (same JSON). */
const checkedAnswer = async (endpoint: Endpoint, query: string, reference?: unknown): Promise<string> => {
  const { status, text } = await post(endpoint, { query });
  const parsed = JSON.parse(text) as unknown;
  if (status !== 200 || (reference !== undefined && !isDeepStrictEqual(parsed, reference))) {
    throw new Error(`${endpoint.name} answers ${query} differently (HTTP ${status}):\n${text.slice(0, 500)}`);
  }
  return text;
};

const checkSignUp = async (endpoint: Endpoint) => {
  const { status, text } = await post(endpoint, JSON.parse(signUpBody()));
  const answer = JSON.parse(text) as { data?: { addUser?: { user?: { id?: string }; errors?: unknown[] } } };
  if (status !== 200 || typeof answer.data?.addUser?.user?.id !== 'string' || answer.data.addUser.errors?.length !== 0) {
    throw new Error(`${endpoint.name} refuses a sign-up (HTTP ${status}): ${text.slice(0, 500)}`);
  }
};

// --- the run -------------------------------------------------------------------

// Services stopped with pooled SMTP connections open reset them; that is no failure of the benchmark.
smtp.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') process.stderr.write(`smtp: ${error.message}\n`);
});

const main = async () => {
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => spanSink.listen(0, '127.0.0.1', resolve));
  const tracing = (ratio: string) => ({
    OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${(spanSink.address() as { port: number }).port}`,
    OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
    OTEL_TRACES_SAMPLER_ARG: ratio,
  });
  const processes: BenchProcess[] = [];
  const issuer = await startDevIssuer({ dataDir: dataRoot, port: 0, logger: pino({ level: 'warn' }) });
  const token = await mintDevToken({ dataDir: dataRoot, subject: 'bench-operator', scopes: ['users:read'], expiresInS: 4 * 3600 });
  const bearer = { authorization: `Bearer ${token}` };
  // What a gateway would send the subgraphs for that operator, signed to last the whole run: for the peers and direct calls.
  const identity = identitySigner(SECRET)({ userId: undefined, scopes: new Set(['users:read']) }, Date.now() + 4 * 3600_000);
  const subgraphHeaders = { 'x-subgraph-secret': SECRET, [IDENTITY_HEADER]: identity };
  try {
    const durable = await startStack('durable', issuer.url, {});
    processes.push(durable.users, durable.notifications, durable.gateway);
    // The cost of durability: config refuses LOG_FSYNC=off in production, and NODE_ENV alone changes the
    // CPU cost of a request, so it is measured as a pair of `test` stacks that differ only in LOG_FSYNC.
    const synced = await startStack('test-fsync', issuer.url, { NODE_ENV: 'test' });
    const unsynced = await startStack('test-no-fsync', issuer.url, { NODE_ENV: 'test', LOG_FSYNC: 'off' });
    processes.push(synced.users, synced.notifications, synced.gateway, unsynced.users, unsynced.notifications, unsynced.gateway);
    // What traces cost: the durable stack again with every service tracing, all requests sampled or one in ten.
    const traced = await startStack('traced-100', issuer.url, tracing('1'));
    const tracedTenth = await startStack('traced-10', issuer.url, tracing('0.1'));
    processes.push(traced.users, traced.notifications, traced.gateway, tracedTenth.users, tracedTenth.notifications, tracedTenth.gateway);

    const apollo: Endpoint = { name: 'this gateway', url: durable.gatewayUrl, headers: bearer, gateway: durable.gateway, users: durable.users, notifications: durable.notifications };
    for (let i = 0; i < SEED_USERS; i++) await checkSignUp(apollo);
    await waitUntil('welcome emails of the seeded users', async () => !JSON.parse((await post(apollo, { query: Q2 })).text).data.users.edges.some((edge: { node: { welcomeEmail: { status: string } | null } }) => edge.node.welcomeEmail?.status !== 'SENT'));

    const seeded = JSON.parse((await post({ ...apollo, url: durable.urls.users, headers: subgraphHeaders }, { query: '{ users(first: 20) { edges { node { id name email createdAt } } } }' })).text);
    const [hivePort, grafbasePort, floorPort] = [await freePort(), await freePort(), await freePort()];
    const hive = startHive({ dir: dataRoot, port: hivePort, urls: durable.urls, secret: SECRET, identity, cpu: GATEWAY_CPU });
    const grafbase = startGrafbase({ dir: dataRoot, port: grafbasePort, urls: durable.urls, secret: SECRET, identity, cpu: GATEWAY_CPU });
    const floor = startProcess('floor', [...NODE, join(ROOT, 'dist', 'bench', 'floor-server.js')], {
      env: { ...process.env, NODE_ENV: 'production', PORT: String(floorPort), FLOOR_SEED: JSON.stringify(seeded.data.users.edges.map((edge: { node: unknown }) => edge.node)) },
      cpu: REST_CPU,
      logFile: join(dataRoot, 'floor.log'),
      cwd: ROOT,
    });
    // The users subgraph on its own log with no notifications service reading it: what the floor is compared with.
    const alonePort = await freePort();
    mkdirSync(join(dataRoot, 'users-alone'), { recursive: true });
    const usersAlone = startProcess('users alone', [...NODE, ...PROFILE, join(ROOT, 'dist', 'system', 'start-subgraph.js'), 'users'], {
      env: { ...process.env, NODE_ENV: 'production', LOG_LEVEL: 'info', DATA_DIR: join(dataRoot, 'users-alone'), SUBGRAPH_SECRET: SECRET, USERS_PORT: String(alonePort) },
      cpu: REST_CPU,
      logFile: join(dataRoot, 'users-alone', 'users.log'),
      cwd: ROOT,
    });
    processes.push(hive, grafbase, floor, usersAlone);
    await waitUntil('users alone', async () => (await fetch(`http://127.0.0.1:${alonePort}/health/ready`)).ok, 60_000);

    const endpoints = {
      apollo,
      anonymous: { ...apollo, name: 'this gateway, no token', headers: {} },
      hive: { ...apollo, name: 'Hive Gateway', url: `http://127.0.0.1:${hivePort}/graphql`, headers: {}, gateway: hive },
      grafbase: { ...apollo, name: 'Grafbase Gateway', url: `http://127.0.0.1:${grafbasePort}/graphql`, headers: {}, gateway: grafbase },
      users: { name: 'users subgraph', url: durable.urls.users, headers: subgraphHeaders, users: durable.users, notifications: durable.notifications },
      floor: { name: 'floor server', url: `http://127.0.0.1:${floorPort}/`, headers: {}, users: floor },
      alone: { name: 'users subgraph alone', url: `http://127.0.0.1:${alonePort}/graphql`, headers: subgraphHeaders, users: usersAlone },
      synced: { name: 'this gateway, NODE_ENV=test', url: synced.gatewayUrl, headers: {}, gateway: synced.gateway, users: synced.users, notifications: synced.notifications },
      unsynced: { name: 'this gateway, NODE_ENV=test, fsync off', url: unsynced.gatewayUrl, headers: {}, gateway: unsynced.gateway, users: unsynced.users, notifications: unsynced.notifications },
      traced: { name: 'this gateway, traced (100%)', url: traced.gatewayUrl, headers: bearer, gateway: traced.gateway, users: traced.users, notifications: traced.notifications },
      tracedTenth: { name: 'this gateway, traced (10%)', url: tracedTenth.gatewayUrl, headers: bearer, gateway: tracedTenth.gateway, users: tracedTenth.users, notifications: tracedTenth.notifications },
    } satisfies Record<string, Endpoint>;
    for (const endpoint of [endpoints.hive, endpoints.grafbase, endpoints.floor]) {
      await waitUntil(endpoint.name, async () => (await post(endpoint, { query: '{ __typename }' })).status === 200, 60_000);
    }

    // Every answer equal to this gateway's before anything is loaded.
    const reference = (query: string) => checkedAnswer(apollo, query).then((text) => ({ text, json: JSON.parse(text) as unknown }));
    const [q1, q2] = [await reference(Q1), await reference(Q2)];
    const cases: Case[] = [];
    const queryCase = async (key: string, endpoint: Endpoint, query: string, expected: { json: unknown }) =>
      cases.push({ key, endpoint, connections: CONNECTIONS, load: { query, expect: await checkedAnswer(endpoint, query, expected.json) } });
    // The traced stacks have their own users: Q1 is checked against their own answer, not the durable stack's.
    for (const key of ['traced', 'tracedTenth'] as const) {
      for (let i = 0; i < SEED_USERS; i++) await checkSignUp(endpoints[key]);
      await queryCase(`Q1 ${key}`, endpoints[key], Q1, { json: JSON.parse((await post(endpoints[key], { query: Q1 })).text) });
    }
    for (const key of ['apollo', 'hive', 'grafbase', 'users', 'floor'] as const) await queryCase(`Q1 ${key}`, endpoints[key], Q1, q1);
    for (const key of ['apollo', 'hive', 'grafbase'] as const) await queryCase(`Q2 ${key}`, endpoints[key], Q2, q2);
    const Q3 = q3(seeded.data.users.edges[0].node.id as string);
    const q3Answer = await reference(Q3);
    for (const key of ['apollo', 'anonymous'] as const) await queryCase(`Q3 ${key}`, endpoints[key], Q3, q3Answer);
    const signUpCases: Case[] = [];
    for (const key of ['apollo', 'traced', 'tracedTenth', 'synced', 'unsynced', 'users', 'alone', 'floor'] as const) {
      await checkSignUp(endpoints[key]);
      signUpCases.push({ key: `signup ${key}`, endpoint: endpoints[key], connections: SIGNUP_CLIENTS, load: { signUps: true } });
    }

    // BENCH_CASES=Q1,signup: only the cases whose key starts with one of these (a shorter look while tuning).
    const only = process.env.BENCH_CASES?.split(',');
    const chosen = (c: Case) => !only || only.some((prefix) => c.key.startsWith(prefix));
    // Queries first, on the 20 seeded users; then sign-ups, whose welcome emails keep the notifications services busy.
    const samples = new Map<string, Sample[]>();
    for (const phase of [cases.filter(chosen), signUpCases.filter(chosen)]) {
      for (const c of phase) await run(c, WARMUP_SECONDS);
      for (let round = 1; round <= ROUNDS; round++) {
        // Every other round in reverse order: a case that follows an idle gateway (or a heavy case) does not always
        // do so, which in one run read as a 1.16x cost of a token that back-to-back rounds put at 1.04x.
        for (const c of round % 2 ? phase : [...phase].reverse()) {
          await emailsSettled();
          const sample = await run(c, SECONDS);
          // A service that ended meanwhile (a crash, or a signal from outside) makes the round meaningless.
          const dead = processes.map((p) => p.died()).find(Boolean);
          if (dead) throw new Error(dead);
          samples.set(c.key, [...(samples.get(c.key) ?? []), sample]);
          process.stderr.write(`round ${round} ${c.key}: ${sample.rps.toFixed(0)} req/s, ${sample.gatewayUs.toFixed(0)} µs gateway CPU/req, ${sample.failures} failures${sample.failures ? ` (${sample.why})` : ''}\n`);
        }
      }
    }
    report(samples);
  } catch (error) {
    keepData = true;
    throw error;
  } finally {
    await Promise.all(processes.map((p) => p.stop()));
    await issuer.stop();
    await new Promise<void>((resolve) => smtp.close(() => resolve()));
    spanSink.close();
    if (!keepData) rmSync(dataRoot, { recursive: true, force: true });
  }
};

// --- the table -----------------------------------------------------------------

const ROWS: readonly [key: string, label: string, reference: string | undefined][] = [
  ['Q1 apollo', 'Q1 this gateway (an operator token)', 'Q1 grafbase'],
  ['Q1 hive', 'Q1 Hive Gateway', 'Q1 grafbase'],
  ['Q1 grafbase', 'Q1 Grafbase Gateway', undefined],
  ['Q1 users', 'Q1 users subgraph directly', 'Q1 floor'],
  ['Q1 floor', 'Q1 floor server (Map, no log)', undefined],
  ['Q1 traced', 'Q1 this gateway, every service tracing, 100% sampled', 'Q1 apollo'],
  ['Q1 tracedTenth', 'Q1 this gateway, every service tracing, 10% sampled', 'Q1 apollo'],
  ['Q2 apollo', 'Q2 this gateway (an operator token)', 'Q2 grafbase'],
  ['Q2 hive', 'Q2 Hive Gateway', 'Q2 grafbase'],
  ['Q2 grafbase', 'Q2 Grafbase Gateway', undefined],
  ['Q3 apollo', 'Q3 this gateway, with a token', 'Q3 anonymous'],
  ['Q3 anonymous', 'Q3 this gateway, no token', undefined],
  ['signup apollo', 'sign-ups through this gateway (durable)', undefined],
  ['signup traced', 'sign-ups, every service tracing, 100% sampled', 'signup apollo'],
  ['signup tracedTenth', 'sign-ups, every service tracing, 10% sampled', 'signup apollo'],
  ['signup synced', 'sign-ups, same stack in NODE_ENV=test (durable)', 'signup unsynced'],
  ['signup unsynced', 'sign-ups, same stack in NODE_ENV=test, LOG_FSYNC=off', undefined],
  ['signup users', 'sign-ups to the users subgraph directly, its welcome emails sent on the same core', 'signup floor'],
  ['signup alone', 'sign-ups to a users subgraph alone (no notifications service)', 'signup floor'],
  ['signup floor', 'sign-ups to the floor server', undefined],
];

type Measure = Exclude<keyof Sample, 'why'>;

const report = (samples: Map<string, Sample[]>) => {
  const med = (key: string, field: Measure) => median((samples.get(key) ?? []).map((sample) => sample[field]));
  const us = (value: number) => (Number.isFinite(value) && value > 0 ? value.toFixed(0) : '–');
  const lines = [
    `CPU: ${/model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown'}, ${cpus().length} cores; node ${process.version}; ` +
      `${pinned ? 'gateways on CPU 0, subgraphs and load on CPU 1' : 'NOT pinned (one core)'}; ${ROUNDS} alternating rounds of ${SECONDS} s, medians; ` +
      `${CONNECTIONS} connections for queries, ${SIGNUP_CLIENTS} for sign-ups; ${SEED_USERS} users before the queries`,
    '',
    '| case | req/s | ratio | vs | p99 ms | gateway CPU µs/req | users CPU µs/req | notifications CPU µs/req | failures |',
    '| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const [key, label, reference] of ROWS) {
    const rps = med(key, 'rps');
    const ratio = reference ? (rps / med(reference, 'rps')).toFixed(2) : '';
    const vs = reference ? (ROWS.find(([k]) => k === reference)?.[1] ?? '') : '';
    const failures = (samples.get(key) ?? []).reduce((sum, sample) => sum + sample.failures, 0);
    lines.push(
      `| ${label} | ${rps.toFixed(0)} | ${ratio} | ${vs} | ${med(key, 'p99').toFixed(1)} | ${us(med(key, 'gatewayUs'))} | ${us(med(key, 'usersUs'))} | ${us(med(key, 'notificationsUs'))} | ${failures} |`,
    );
  }
  const ratio = (a: string, b: string, field: Measure = 'rps') => med(a, field) / med(b, field);
  // The two cases of a round run back to back (in turn first), so the machine's speed, which drifts here, mostly cancels.
  const paired = (a: string, b: string, field: Measure) => {
    const [first, second] = [samples.get(a) ?? [], samples.get(b) ?? []];
    return median(first.map((sample, i) => sample[field] / (second[i]?.[field] ?? NaN)));
  };
  lines.push(
    '',
    '| target | measured | goal |',
    '| --- | ---: | --- |',
    `| gateway CPU/request vs Grafbase, Q1 | ${ratio('Q1 apollo', 'Q1 grafbase', 'gatewayUs').toFixed(2)}x | at most 2x |`,
    `| gateway CPU/request vs Grafbase, Q2 | ${ratio('Q2 apollo', 'Q2 grafbase', 'gatewayUs').toFixed(2)}x | at most 2x |`,
    `| Q1 req/s vs Grafbase | ${ratio('Q1 apollo', 'Q1 grafbase').toFixed(2)}x | at least 0.8x |`,
    `| Q2 req/s vs Grafbase | ${ratio('Q2 apollo', 'Q2 grafbase').toFixed(2)}x | at least 1.0x |`,
    `| Q1 / Q2 req/s vs Hive Gateway | ${ratio('Q1 apollo', 'Q1 hive').toFixed(2)}x / ${ratio('Q2 apollo', 'Q2 hive').toFixed(2)}x | at least 1x |`,
    `| users subgraph vs floor, Q1 / sign-ups (alone; with its emails sent on the same core) | ${ratio('Q1 users', 'Q1 floor').toFixed(2)}x / ${ratio('signup alone', 'signup floor').toFixed(2)}x (${ratio('signup users', 'signup floor').toFixed(2)}x) | at least 0.8x |`,
    `| gateway CPU/request with a token vs without, Q3 (median of the per-round ratios) | ${paired('Q3 apollo', 'Q3 anonymous', 'gatewayUs').toFixed(2)}x | at most 1.05x |`,
    `| durable sign-ups vs fsync off (both NODE_ENV=test) | ${ratio('signup synced', 'signup unsynced').toFixed(2)}x | at least 0.8x |`,
    `| gateway CPU/request, tracing at 100% / 10% vs off, Q1 (median of the per-round ratios) | ${paired('Q1 traced', 'Q1 apollo', 'gatewayUs').toFixed(2)}x / ${paired('Q1 tracedTenth', 'Q1 apollo', 'gatewayUs').toFixed(2)}x | |`,
    `| gateway CPU/request, tracing at 100% / 10% vs off, sign-ups (median of the per-round ratios) | ${paired('signup traced', 'signup apollo', 'gatewayUs').toFixed(2)}x / ${paired('signup tracedTenth', 'signup apollo', 'gatewayUs').toFixed(2)}x | |`,
    '',
    `${emailsAccepted} welcome emails accepted by the benchmark's SMTP server; ${spanBatches} span batches exported by the traced stacks.`,
  );
  process.stdout.write(`${lines.join('\n')}\n`);
};

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`bench:gateway failed: ${(error as Error).stack ?? String(error)}\n`);
    process.stderr.write(`logs kept in ${dataRoot}\n`);
    process.exit(1);
  },
);
