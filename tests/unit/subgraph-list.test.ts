import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, mergeConfigs } from '../../lib/config';
import {
  readSubgraphList,
  subgraphKeys,
  subgraphNamed,
  subgraphPortOf,
  subgraphPortsConfig,
  subgraphUrlsConfig,
  subgraphUrlsOf,
} from '../../lib/subgraph-list';
import { listedSubgraph } from '../../system/subgraph-services';
import { ROOT } from '../helpers/paths';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'subgraph-list-test-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const write = (text: string): string => {
  const file = path.join(dir, 'supergraph.yaml');
  writeFileSync(file, text);
  return file;
};

const entry = (name: string, url = 'http://localhost:4005/graphql', file = `./${name}.graphql`) =>
  `  ${name}:\n    routing_url: ${url}\n    schema:\n      file: ${file}\n`;

const list = (...entries: string[]) => `federation_version: =2.14.4\nsubgraphs:\n${entries.join('')}`;

/** The ConfigError `readSubgraphList` throws for `text`. */
const refusal = (text: string): ConfigError => {
  const file = write(text);
  try {
    readSubgraphList(file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    expect(message).toContain(file);
    expect(message).not.toContain('\n');
    return error as ConfigError;
  }
  throw new Error(`readSubgraphList accepted:\n${text}`);
};

describe('the subgraph list', () => {
  it('reads the project supergraph.yaml: users and notifications, in order, with their keys and ports', () => {
    const { federationVersion, subgraphs } = readSubgraphList();
    expect(federationVersion).toMatch(/^=2\./);
    expect(subgraphs).toEqual([
      {
        name: 'users',
        routingUrl: 'http://localhost:4001/graphql',
        port: 4001,
        schemaFile: path.join(ROOT, 'subgraphs', 'users', 'schema.graphql'),
        urlKey: 'USERS_URL',
        portKey: 'USERS_PORT',
      },
      {
        name: 'notifications',
        routingUrl: 'http://localhost:4002/graphql',
        port: 4002,
        schemaFile: path.join(ROOT, 'subgraphs', 'notifications', 'schema.graphql'),
        urlKey: 'NOTIFICATIONS_URL',
        portKey: 'NOTIFICATIONS_PORT',
      },
    ]);
  });

  it('derives the keys from the name: upper case, "-" as "_"', () => {
    expect(subgraphKeys('users')).toEqual({ urlKey: 'USERS_URL', portKey: 'USERS_PORT' });
    expect(subgraphKeys('user-reviews2')).toEqual({ urlKey: 'USER_REVIEWS2_URL', portKey: 'USER_REVIEWS2_PORT' });
  });

  it('resolves schema files against the yaml file, and takes the port from the routing URL (or its scheme)', () => {
    const file = write(list(entry('reviews', 'http://localhost:4010/graphql', 'schemas/reviews.graphql'), entry('plain', 'https://plain.internal/graphql'), entry('web', 'http://web.internal/graphql')));
    const { subgraphs } = readSubgraphList(file);
    expect(subgraphs.map(({ name, port, schemaFile }) => ({ name, port, schemaFile }))).toEqual([
      { name: 'reviews', port: 4010, schemaFile: path.join(dir, 'schemas', 'reviews.graphql') },
      { name: 'plain', port: 443, schemaFile: path.join(dir, 'plain.graphql') },
      { name: 'web', port: 80, schemaFile: path.join(dir, 'web.graphql') },
    ]);
  });

  it('gives each entry its <NAME>_URL and <NAME>_PORT keys, the port defaulting to the routing URL\'s', () => {
    const { subgraphs } = readSubgraphList(write(list(entry('reviews', 'http://localhost:4010/graphql'), entry('user-tags', 'http://localhost:4011/graphql'))));
    const spec = mergeConfigs(subgraphUrlsConfig(subgraphs), subgraphPortsConfig(subgraphs));
    const defaults = loadConfig(spec, {});
    expect(subgraphs.map((subgraph) => subgraphPortOf(subgraph, defaults))).toEqual([4010, 4011]);
    expect(subgraphUrlsOf(subgraphs, defaults)).toEqual({});
    const set = loadConfig(spec, { USER_TAGS_PORT: '0', REVIEWS_URL: 'http://10.0.0.5:80/graphql' });
    expect(subgraphPortOf(subgraphs[1]!, set)).toBe(0);
    expect(subgraphUrlsOf(subgraphs, set)).toEqual({ reviews: 'http://10.0.0.5:80/graphql' });
    expect(() => loadConfig(spec, { REVIEWS_PORT: 'x', USER_TAGS_URL: 'nope' })).toThrow(/USER_TAGS_URL: [\s\S]*REVIEWS_PORT: /);
  });

  it('finds an entry by name, and names the listed ones for a name it lacks', () => {
    const listed = readSubgraphList();
    expect(subgraphNamed(listed, 'notifications').portKey).toBe('NOTIFICATIONS_PORT');
    expect(() => subgraphNamed(listed, 'reviews')).toThrow(new ConfigError('No subgraph "reviews" in supergraph.yaml; it lists users, notifications'));
  });

  it('runs each listed subgraph from its folder\'s src/service.ts, and refuses an entry whose folder has none', () => {
    for (const entry of readSubgraphList().subgraphs) {
      expect(Object.keys(loadConfig(listedSubgraph(entry).config, {}))).toContain(entry.portKey);
    }
    const [absent] = readSubgraphList(write(list(entry('absent')))).subgraphs;
    expect(() => listedSubgraph(absent!)).toThrow(
      new ConfigError('supergraph.yaml lists "absent", but there is no subgraphs/absent/src/service.ts: each subgraph exports its subgraphService from there'),
    );
  });

  describe('refuses, in one line naming the file and what is wrong,', () => {
    it('a file that is missing', () => {
      expect(() => readSubgraphList(path.join(dir, 'absent.yaml'))).toThrow(/absent\.yaml: cannot read it \(ENOENT\)/);
    });

    it('YAML that does not parse', () => {
      expect(refusal('subgraphs: [\n').message).toMatch(/: YAML: .*at line \d+, column \d+$/);
    });

    it('an empty file', () => {
      expect(refusal('').message).toMatch(/\(top level\): expected a map with federation_version and subgraphs/);
    });

    it('a missing or malformed federation_version', () => {
      expect(refusal(`subgraphs:\n${entry('a')}`).message).toMatch(/federation_version: expected a version like "=2\.14\.4"/);
      expect(refusal(`federation_version: two\nsubgraphs:\n${entry('a')}`).message).toMatch(/federation_version: expected a version like/);
    });

    it('no subgraphs, or subgraphs that are not a map', () => {
      expect(refusal('federation_version: =2.14.4\nsubgraphs: {}\n').message).toMatch(/subgraphs: expected at least one subgraph/);
      expect(refusal('federation_version: =2.14.4\nsubgraphs: [users]\n').message).toMatch(/subgraphs: expected a map of subgraph names/);
    });

    it('a routing_url that is missing or not http(s)', () => {
      expect(refusal(list(entry('a', 'localhost:4001/graphql'))).message).toMatch(/subgraphs\.a\.routing_url: expected an http\(s\) URL/);
      expect(refusal(list('  a:\n    schema:\n      file: ./a.graphql\n')).message).toMatch(/subgraphs\.a\.routing_url: expected an http\(s\) URL/);
    });

    it('a schema without its file', () => {
      expect(refusal(list('  a:\n    routing_url: http://localhost:4001/graphql\n')).message).toMatch(/subgraphs\.a\.schema: expected `file: <path>`/);
      expect(refusal(list('  a:\n    routing_url: http://localhost:4001/graphql\n    schema: {}\n')).message).toMatch(/subgraphs\.a\.schema\.file: expected the path of the schema file/);
    });

    it('a name that cannot be a folder and an environment key, or is the gateway\'s', () => {
      for (const name of ['Users', 'user_tags', '2fa', 'tags-', 'a--b']) {
        expect(refusal(list(entry(name))).message).toContain(`subgraphs.${name}: a subgraph name is lowercase letters and digits, words joined by "-"`);
      }
      expect(refusal(list(entry('gateway'))).message).toContain('subgraphs.gateway: "gateway" is taken: GATEWAY_PORT is not a subgraph\'s');
      expect(refusal(list(entry('dev-issuer'))).message).toContain('subgraphs.dev-issuer: "dev-issuer" is taken');
    });

    it('every problem at once', () => {
      const { message } = refusal(`federation_version: x\nsubgraphs:\n${entry('Bad', 'ftp://x/graphql')}${entry('ok')}`);
      expect(message).toMatch(/subgraphs\.Bad: a subgraph name.*; federation_version: .*; subgraphs\.Bad\.routing_url: /);
    });
  });
});
