/** The peer gateways the benchmark compares against, configured to serve the same supergraph and subgraphs. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { secureSupergraph } from '../gateway/src/auth/policy';
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
  /**
   * The caller's identity header the subgraphs trust, signed for the whole run: peers stand in as
   * a trusted gateway for an operator, and serve the supergraph without its security directives
   * (neither is configured with a token issuer here), so only this gateway pays for authorization.
   */
  readonly identity: string;
  readonly cpu: string | undefined;
}

/** A subgraph schema without `@authenticated` and `@requiresScopes`, for a peer that verifies no tokens. */
const withoutSecurity = (schema: string) =>
  schema
    .replace(/, "@authenticated"|, "@requiresScopes"/g, '')
    .replace(/ @authenticated\b/g, '')
    .replace(/ @requiresScopes\(scopes: \[\[[^\]]*\]\]\)/g, '');

/** Hive Gateway 2 in production mode: the committed supergraph with the subgraphs' actual URLs, the secret inserted, no deduplication either way. */
export const startHive = ({ dir, port, urls, secret, identity, cpu }: PeerOptions): BenchProcess => {
  const home = join(dir, 'hive');
  mkdirSync(home, { recursive: true });
  const supergraph = secureSupergraph(readFileSync(join(ROOT, 'gateway', 'supergraph.graphql'), 'utf8'))
    .executable.replace('http://localhost:4001/graphql', urls.users)
    .replace('http://localhost:4002/graphql', urls.notifications);
  writeFileSync(join(home, 'supergraph.graphql'), supergraph);
  const entry = {
    headers: [
      ['x-subgraph-secret', secret],
      ['x-caller-identity', identity],
    ],
    options: { deduplicateInflightRequests: false },
  };
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
export const startGrafbase = ({ dir, port, urls, secret, identity, cpu }: PeerOptions): BenchProcess => {
  const home = join(dir, 'grafbase');
  mkdirSync(home, { recursive: true });
  for (const name of ['users', 'notifications']) {
    writeFileSync(join(home, `${name}.graphql`), withoutSecurity(readFileSync(join(ROOT, 'subgraphs', name, 'schema.graphql'), 'utf8')));
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
      '[[headers]]',
      'rule = "insert"',
      'name = "x-caller-identity"',
      `value = "${identity}"`,
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
