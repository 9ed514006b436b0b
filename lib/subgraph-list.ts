import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigError, defineConfig, optionalUrl, port, type ConfigSpec } from './config';
import { PROJECT_ROOT } from './paths';

// supergraph.yaml (Rover's format) is the one list of subgraphs: composition, codegen, the
// gateway's subgraph URLs, `npm start`'s services and ports, and the tests all read it here.

/** One subgraph of supergraph.yaml, and the environment keys it is given. */
export interface SubgraphEntry {
  /** Its key in supergraph.yaml: also its folder, `subgraphs/<name>/`. */
  readonly name: string;
  readonly routingUrl: string;
  /** Where `npm start` runs it unless `portKey` says otherwise: the routing URL's port. */
  readonly port: number;
  /** Absolute path of its schema file. */
  readonly schemaFile: string;
  /** `<NAME>_URL`: where the gateway calls it, overriding `routingUrl`. */
  readonly urlKey: string;
  /** `<NAME>_PORT`: where it listens. */
  readonly portKey: string;
}

export interface SubgraphList {
  /** As pinned in supergraph.yaml, e.g. `=2.14.4`. */
  readonly federationVersion: string;
  readonly subgraphs: readonly SubgraphEntry[];
}

export const SUPERGRAPH_YAML = path.join(PROJECT_ROOT, 'supergraph.yaml');

/** Names whose keys the gateway and `npm start` hold already (`GATEWAY_PORT`, `DEV_ISSUER_PORT`). */
const RESERVED_NAMES = new Set(['gateway', 'dev-issuer']);

const subgraphName = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/** The environment keys of a subgraph: `users` → `USERS_URL`, `USERS_PORT`; `user-reviews` → `USER_REVIEWS_URL`, …. */
export const subgraphKeys = (name: string): { urlKey: string; portKey: string } => {
  const stem = name.toUpperCase().replaceAll('-', '_');
  return { urlKey: `${stem}_URL`, portKey: `${stem}_PORT` };
};

const entrySchema = z.object({
  routing_url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  schema: z.object({ file: z.string({ error: 'expected the path of the schema file' }).min(1, 'expected the path of the schema file') }, { error: 'expected `file: <path>`' }),
});

const listSchema = z.object(
  {
    federation_version: z
      .string({ error: 'expected a version like "=2.14.4"' })
      .regex(/^=?\d+(\.\d+){0,2}(-[0-9A-Za-z.-]+)?$/, 'expected a version like "=2.14.4"'),
    subgraphs: z
      .record(z.string(), entrySchema, { error: 'expected a map of subgraph names' })
      .refine((subgraphs) => Object.keys(subgraphs).length > 0, 'expected at least one subgraph'),
  },
  { error: 'expected a map with federation_version and subgraphs' },
);

const portOf = (url: string): number => {
  const { port: given, protocol } = new URL(url);
  return given ? Number(given) : protocol === 'https:' ? 443 : 80;
};

/** What is wrong with a subgraph's name, if anything: it names a folder and environment keys. */
const nameProblem = (name: string): string | undefined => {
  if (!subgraphName.test(name)) return 'a subgraph name is lowercase letters and digits, words joined by "-"';
  if (RESERVED_NAMES.has(name)) return `"${name}" is taken: ${subgraphKeys(name).portKey} is not a subgraph's`;
  return undefined;
};

/** The names' problems, as `subgraphs.<name>: …`. */
const nameProblems = (raw: unknown): string[] => {
  const subgraphs = (raw as { subgraphs?: unknown } | null)?.subgraphs;
  if (typeof subgraphs !== 'object' || subgraphs === null) return [];
  return Object.keys(subgraphs).flatMap((name) => {
    const problem = nameProblem(name);
    return problem ? [`subgraphs.${name}: ${problem}`] : [];
  });
};

/**
 * Reads and checks supergraph.yaml. Anything wrong throws a `ConfigError` of
 * one line naming the file and each field at fault.
 */
export const readSubgraphList = (file: string = SUPERGRAPH_YAML): SubgraphList => {
  const fail = (problems: readonly string[]): never => {
    throw new ConfigError(`Invalid subgraph list ${file}: ${problems.join('; ')}`);
  };
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    fail([`cannot read it (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`]);
  }
  const document = parseDocument(text);
  // YAML's messages end their first line with the position, then show a snippet.
  if (document.errors.length > 0) fail(document.errors.map((error) => `YAML: ${error.message.split('\n')[0]?.replace(/:$/, '')}`));
  const raw: unknown = document.toJS();
  const parsed = listSchema.safeParse(raw);
  const problems = [...nameProblems(raw), ...(parsed.success ? [] : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`))];
  if (!parsed.success || problems.length > 0) return fail(problems);
  const baseDir = path.dirname(file);
  return {
    federationVersion: parsed.data.federation_version,
    subgraphs: Object.entries(parsed.data.subgraphs).map(([name, entry]) => ({
      name,
      routingUrl: entry.routing_url,
      port: portOf(entry.routing_url),
      schemaFile: path.resolve(baseDir, entry.schema.file),
      ...subgraphKeys(name),
    })),
  };
};

/** The entry named `name`; a name the list lacks is a `ConfigError` naming those it has. */
export const subgraphNamed = (list: SubgraphList, name: string): SubgraphEntry => {
  const entry = list.subgraphs.find((subgraph) => subgraph.name === name);
  if (!entry) throw new ConfigError(`No subgraph "${name}" in supergraph.yaml; it lists ${list.subgraphs.map((subgraph) => subgraph.name).join(', ')}`);
  return entry;
};

// The keys below depend on the list, so their names are unknown to the type system: they are
// read back through the entries (`subgraphUrlsOf`, `subgraphPortOf`), never as properties.
type ListedKeys = ConfigSpec<Record<never, never>>;

/** `<NAME>_URL` of every entry: where the gateway calls it. */
export const subgraphUrlsConfig = (entries: readonly SubgraphEntry[]): ListedKeys =>
  defineConfig({ keys: () => Object.fromEntries(entries.map((entry) => [entry.urlKey, optionalUrl])) }) as ListedKeys;

/** `<NAME>_PORT` of every entry, defaulting to its routing URL's port: where it listens. */
export const subgraphPortsConfig = (entries: readonly SubgraphEntry[]): ListedKeys =>
  defineConfig({ keys: () => Object.fromEntries(entries.map((entry) => [entry.portKey, port(entry.port)])) }) as ListedKeys;

/** Each entry's `<NAME>_URL` from a config loaded with `subgraphUrlsConfig`, by subgraph name; unset ones are left out. */
export const subgraphUrlsOf = (entries: readonly SubgraphEntry[], config: object): Readonly<Record<string, string>> =>
  Object.fromEntries(
    entries.flatMap((entry) => {
      const url = (config as Readonly<Record<string, unknown>>)[entry.urlKey];
      return typeof url === 'string' ? [[entry.name, url]] : [];
    }),
  );

/** An entry's `<NAME>_PORT` from a config loaded with `subgraphPortsConfig`. */
export const subgraphPortOf = (entry: SubgraphEntry, config: object): number => {
  const value = (config as Readonly<Record<string, unknown>>)[entry.portKey];
  if (typeof value !== 'number') throw new Error(`${entry.portKey} was not loaded: merge subgraphPortsConfig into the spec`);
  return value;
};
