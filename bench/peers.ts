/** The peer gateways the benchmark compares against, configured to serve the same supergraph and subgraphs. */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startProcess, type BenchProcess } from './processes';

export const ROOT = join(__dirname, '..');

export interface SubgraphUrls {
  readonly users: string;
  readonly notifications: string;
}

export interface PeerOptions {
  readonly dir: string;
  readonly port: number;
  readonly urls: SubgraphUrls;
  readonly secret: string;
  readonly cpu: string | undefined;
}

/** Hive Gateway 2 in production mode: the committed supergraph with the subgraphs' actual URLs, the secret inserted, no deduplication either way. */
export const startHive = ({ dir, port, urls, secret, cpu }: PeerOptions): BenchProcess => {
  const home = join(dir, 'hive');
  mkdirSync(home, { recursive: true });
  const supergraph = readFileSync(join(ROOT, 'gateway', 'supergraph.graphql'), 'utf8')
    .replace('http://localhost:4001/graphql', urls.users)
    .replace('http://localhost:4002/graphql', urls.notifications);
  writeFileSync(join(home, 'supergraph.graphql'), supergraph);
  const entry = { headers: [['x-subgraph-secret', secret]], options: { deduplicateInflightRequests: false } };
  const config = {
    supergraph: join(home, 'supergraph.graphql'),
    inboundInflightRequestDeduplication: false,
    transportEntries: { users: entry, notifications: entry },
  };
  writeFileSync(join(home, 'gateway.config.mjs'), `export const gatewayConfig = ${JSON.stringify(config, null, 2)};\n`);
  return startProcess(
    'hive',
    [
      process.execPath,
      join(ROOT, 'node_modules', '@graphql-hive', 'gateway', 'dist', 'bin.js'),
      'supergraph',
      join(home, 'supergraph.graphql'),
      '--config-path',
      join(home, 'gateway.config.mjs'),
      '--host',
      '127.0.0.1',
      '--port',
      String(port),
      '--fork',
      '1',
    ],
    { env: { ...process.env, NODE_ENV: 'production' }, cpu, logFile: join(dir, 'hive.log'), cwd: home },
  );
};

/** The Rust Grafbase Gateway, as `grafbase dev`: the two subgraph schemas, the secret inserted, in-flight deduplication off. */
export const startGrafbase = ({ dir, port, urls, secret, cpu }: PeerOptions): BenchProcess => {
  const home = join(dir, 'grafbase');
  mkdirSync(home, { recursive: true });
  for (const name of ['users', 'notifications']) {
    copyFileSync(join(ROOT, 'subgraphs', name, 'schema.graphql'), join(home, `${name}.graphql`));
  }
  writeFileSync(
    join(home, 'grafbase.toml'),
    [
      '[subgraphs.users]',
      `url = "${urls.users}"`,
      'schema_path = "users.graphql"',
      '',
      '[subgraphs.notifications]',
      `url = "${urls.notifications}"`,
      'schema_path = "notifications.graphql"',
      '',
      '[[headers]]',
      'rule = "insert"',
      'name = "x-subgraph-secret"',
      `value = "${secret}"`,
      '',
      '[traffic_shaping]',
      'inflight_deduplication = false',
      '',
    ].join('\n'),
  );
  const binary = join(ROOT, 'node_modules', '@grafbase', 'cli-x86_64-unknown-linux-musl', 'grafbase');
  return startProcess('grafbase', [binary, 'dev', '-c', join(home, 'grafbase.toml'), '-p', String(port)], {
    env: process.env,
    cpu,
    logFile: join(dir, 'grafbase.log'),
    cwd: home,
  });
};
