/**
 * Users replicas on PostgreSQL: durable sign-ups per second through one users
 * service on the embedded log, one on PostgreSQL, and two replicas sharing one
 * PostgreSQL stream (load spread over both), in alternating rounds, medians;
 * and how long a sign-up written on one replica takes to be readable on the
 * other, under that load (p50/p99). PostgreSQL runs with its durable defaults
 * (fsync, synchronous_commit on). Run: npm run bench:replicas
 */
import { cpus, tmpdir } from 'node:os';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { startPostgres } from '../tests/helpers/postgres';
import { freePort, spawnService, type ServiceProcess } from '../tests/helpers/processes';

const SECRET = 'bench-replicas-secret-0123456789';
const CLIENTS = 64;
const ROUNDS = 3;
const ROUND_MS = Number(process.env.BENCH_SECONDS ?? 5) * 1000;
const LAG_PROBES_PER_ROUND = 100;

const SIGN_UP = 'mutation($input: AddUserInput!) { addUser(input: $input) { user { id } errors { code } } }';
const USER = 'query($id: ID!) { user(id: $id) { id } }';

const post = async (url: string, query: string, variables: object) => {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-subgraph-secret': SECRET },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: any; errors?: unknown[] };
};

let emails = 0;
const signUp = async (url: string): Promise<string | undefined> => {
  const n = ++emails;
  const answer = await post(url, SIGN_UP, { input: { name: `Bench ${n}`, email: `bench${n}@example.com` } });
  return answer.data?.addUser?.user?.id;
};

const started: ServiceProcess[] = [];

/** A users service in production mode (warnings only in its log, as an operator would run it under load). */
const startUsers = async (env: Record<string, string>): Promise<string> => {
  const port = await freePort();
  const users = spawnService('system/start-subgraph.ts users', {
    NODE_ENV: 'production',
    LOG_LEVEL: 'warn',
    SUBGRAPH_SECRET: SECRET,
    USERS_PORT: String(port),
    ...env,
  });
  started.push(users);
  for (const deadline = Date.now() + 60_000; ; ) {
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then((response) => response.ok, () => false);
    if (ready) return `http://127.0.0.1:${port}/graphql`;
    if (Date.now() > deadline || users.child.exitCode !== null) throw new Error(`users did not start:\n${users.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
};

/** Acknowledged sign-ups per second: `CLIENTS` loops over `urls` in turn, each waiting for its answer. */
const load = async (urls: readonly string[]): Promise<number> => {
  const deadline = performance.now() + ROUND_MS;
  let done = 0;
  await Promise.all(
    Array.from({ length: CLIENTS }, async (_, client) => {
      for (let i = client; performance.now() < deadline; i++) if (await signUp(urls[i % urls.length]!)) done++;
    }),
  );
  return done / (ROUND_MS / 1000);
};

/** Milliseconds from a sign-up acknowledged by `writer` until `reader` answers it, sampled while `during` runs. */
const lagSamples = async (writer: string, reader: string, during: Promise<unknown>): Promise<number[]> => {
  const samples: number[] = [];
  let running = true;
  void during.finally(() => (running = false));
  while (running && samples.length < LAG_PROBES_PER_ROUND) {
    const id = await signUp(writer);
    if (!id) continue;
    const acknowledged = performance.now();
    while ((await post(reader, USER, { id })).data?.user?.id !== id) {
      if (performance.now() - acknowledged > 10_000) throw new Error(`user ${id} not on the other replica after 10 s`);
    }
    samples.push(performance.now() - acknowledged);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return samples;
};

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const percentile = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length * p) / 100))]!;

const main = async () => {
  console.log(`# users replicas: ${cpus().length} × ${cpus()[0]?.model}, node ${process.version}`);
  console.log(`# ${CLIENTS} clients, ${ROUNDS} alternating rounds of ${ROUND_MS / 1000} s, medians; PostgreSQL 15 with fsync and synchronous_commit on\n`);
  const cluster = await startPostgres({ durable: true });
  const dataDir = await mkdtemp(join(tmpdir(), 'bench-replicas-'));
  try {
    const embedded = await startUsers({ DATA_DIR: dataDir });
    const single = await startUsers({ DATABASE_URL: await cluster.createDatabase('single') });
    const shared = await cluster.createDatabase('shared');
    const [first, second] = [await startUsers({ DATABASE_URL: shared }), await startUsers({ DATABASE_URL: shared })];

    const setups = {
      'embedded log, one process': [embedded],
      'PostgreSQL, one replica': [single],
      'PostgreSQL, two replicas': [first, second],
    } as const;
    const rates: Record<string, number[]> = Object.fromEntries(Object.keys(setups).map((name) => [name, []]));
    const lags: number[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [name, urls] of Object.entries(setups)) {
        const measuring = load(urls);
        if (urls.length === 2) lags.push(...(await lagSamples(first, second, measuring)));
        rates[name]!.push(await measuring);
      }
    }

    const baseline = median(rates['embedded log, one process']!);
    console.log('| setup | durable sign-ups/s | vs embedded |');
    console.log('| --- | ---: | ---: |');
    for (const [name, values] of Object.entries(rates)) {
      console.log(`| ${name} | ${Math.round(median(values))} | ${(median(values) / baseline).toFixed(2)}x |`);
    }
    console.log(`\nreplica lag under load (${lags.length} probes): p50 ${percentile(lags, 50).toFixed(1)} ms, p99 ${percentile(lags, 99).toFixed(1)} ms`);
  } finally {
    await Promise.all(started.map((service) => service.kill()));
    await cluster.stop();
    await rm(dataDir, { recursive: true, force: true });
  }
};

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
