import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { composeSupergraph, loadSupergraphConfig, renderSupergraphFile } from '../../gateway/src/compose';
import { ROOT } from '../helpers/paths';

const link = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.14", import: ["@key", "@shareable"])\n';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'supergraph-test-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Writes a supergraph.yaml and the given subgraph schemas into the temp dir, returning the yaml's path. */
function writeSupergraph(schemas: Record<string, string>, routingUrl = 'http://localhost:4001/graphql'): string {
  const entries = Object.entries(schemas).map(([name, sdl]) => {
    writeFileSync(path.join(dir, `${name}.graphql`), sdl);
    return `  ${name}:\n    routing_url: ${routingUrl}\n    schema:\n      file: ./${name}.graphql\n`;
  });
  const file = path.join(dir, 'supergraph.yaml');
  writeFileSync(file, `federation_version: =2.14.3\nsubgraphs:\n${entries.join('')}`);
  return file;
}

test('the committed supergraph equals a fresh composition of supergraph.yaml', () => {
  const { supergraphSdl } = composeSupergraph(loadSupergraphConfig(path.join(ROOT, 'supergraph.yaml')));
  const committed = readFileSync(path.join(ROOT, 'gateway/supergraph.graphql'), 'utf8');
  if (committed !== renderSupergraphFile(supergraphSdl)) {
    throw new Error('gateway/supergraph.graphql is stale: run `npm run compose` and commit the result.');
  }
});

test('composition errors name the subgraph and location', () => {
  const file = writeSupergraph({
    alpha: `${link}type Query { a: Thing }\ntype Thing @shareable {\n  id: ID!\n  size: Int\n}\n`,
    beta: `${link}type Query { b: Thing }\ntype Thing @shareable {\n  id: ID!\n  size: String\n}\n`,
  });
  const config = loadSupergraphConfig(file);
  expect(() => composeSupergraph(config)).toThrow(/FIELD_TYPE_MISMATCH: .*Thing\.size/);
  expect(() => composeSupergraph(config)).toThrow(/at subgraph "alpha" \(.*alpha\.graphql:5:3\)/);
  expect(() => composeSupergraph(config)).toThrow(/at subgraph "beta" \(.*beta\.graphql:5:3\)/);
});

test('subgraph validation errors name the subgraph and location', () => {
  const file = writeSupergraph({
    gamma: `${link}type Query { u: U }\n\ntype U @key(fields: "nope") {\n  id: ID!\n}\n`,
  });
  expect(() => composeSupergraph(loadSupergraphConfig(file))).toThrow(
    /KEY_INVALID_FIELDS: .*"nope"[\s\S]*at subgraph "gamma" \(.*gamma\.graphql:4:8\)/,
  );
});

test('refuses a supergraph.yaml with a missing schema file / bad routing_url', () => {
  const file = writeSupergraph({ alpha: `${link}type Query { a: Int }\n` }, 'localhost:4001/graphql');
  expect(() => loadSupergraphConfig(file)).toThrow(file);
  expect(() => loadSupergraphConfig(file)).toThrow(/subgraphs\.alpha\.routing_url: expected an http\(s\) URL/);

  const missing = writeSupergraph({ alpha: `${link}type Query { a: Int }\n` });
  rmSync(path.join(dir, 'alpha.graphql'));
  expect(() => loadSupergraphConfig(missing)).toThrow(
    /subgraphs\.alpha\.schema\.file: cannot read \.\/alpha\.graphql .*file not found/,
  );
});

test('refuses a federation_version newer than the installed composition', () => {
  const file = writeSupergraph({ alpha: `${link}type Query { a: Int }\n` });
  writeFileSync(file, readFileSync(file, 'utf8').replace('=2.14.3', '=2.99.0'));
  expect(() => composeSupergraph(loadSupergraphConfig(file))).toThrow(
    /federation_version =2\.99\.0, newer than the installed @apollo\/composition 2\.14\./,
  );
});
