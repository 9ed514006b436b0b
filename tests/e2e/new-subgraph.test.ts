import { execFile } from 'node:child_process';
import { appendFile, cp, mkdir, readFile, symlink } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { readSubgraphList } from '../../lib/subgraph-list';
import { gql, SIGN_UP } from '../helpers/graphql';
import { ROOT } from '../helpers/paths';
import { portsEnv, spawnScript, type ServiceProcess } from '../helpers/processes';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

const run = promisify(execFile);

/** A copy of the project's files (tracked, and new ones not ignored), sharing its node_modules. */
const copyProject = async (into: string): Promise<void> => {
  const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
  const files = stdout.split('\0').filter((file) => file && existsSync(join(ROOT, file)));
  for (const file of files) {
    await mkdir(dirname(join(into, file)), { recursive: true });
    await cp(join(ROOT, file), join(into, file));
  }
  await symlink(join(ROOT, 'node_modules'), join(into, 'node_modules'), 'dir');
};

/** The supergraph.yaml entry the README's "Adding a subgraph" section shows: the first yaml block under its heading. */
const readmeEntry = async (): Promise<string> => {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const section = readme.split(/^## /m).find((part) => part.startsWith('Adding a subgraph'));
  const [, indent = '', block] = section?.match(/^( *)```yaml\n([\s\S]*?)^ *```/m) ?? [];
  if (!block) throw new Error('README.md has no "Adding a subgraph" section with a ```yaml block for supergraph.yaml');
  // The block sits in a list item: its fence's indent is Markdown's, not YAML's.
  return block.replace(new RegExp(`^${indent}`, 'gm'), '');
};

describe('adding a subgraph as the README says', () => {
  let copy: string;
  let system: ServiceProcess | undefined;

  beforeAll(async () => {
    copy = await makeTempDir('signup-new-subgraph-');
    await copyProject(copy);
  });

  afterAll(async () => {
    await system?.kill();
    await removeTempDir(copy);
  });

  it('one folder and one supergraph.yaml entry: codegen, compose, npm start run it, and the gateway answers its field', async () => {
    // 1. The folder: a subgraph that extends User with a greeting made from the user's name.
    await cp(join(ROOT, 'tests', 'fixtures', 'greetings-subgraph'), join(copy, 'subgraphs', 'greetings'), { recursive: true });
    // 2. The entry, as the README shows it.
    const yaml = join(copy, 'supergraph.yaml');
    await appendFile(yaml, await readmeEntry());
    const greetings = readSubgraphList(yaml).subgraphs.find((subgraph) => subgraph.name === 'greetings');
    expect(greetings).toMatchObject({ urlKey: 'GREETINGS_URL', portKey: 'GREETINGS_PORT', schemaFile: join(copy, 'subgraphs', 'greetings', 'schema.graphql') });

    // 3. Its resolver types and the supergraph.
    await run('npm', ['run', '--silent', 'codegen'], { cwd: copy });
    expect(await readFile(join(copy, 'subgraphs', 'greetings', 'src', 'generated', 'resolvers-types.ts'), 'utf8')).toContain('greeting?: Resolver<');
    await run('npm', ['run', '--silent', 'compose'], { cwd: copy });
    expect(await readFile(join(copy, 'gateway', 'supergraph.graphql'), 'utf8')).toMatch(/greeting: String! @join__field\(graph: GREETINGS/);

    // 4. npm start on free ports, each from the list's <NAME>_PORT: none is the routing URL's, so
    // the gateway reaches greetings only if npm start ran it and told the gateway where.
    const ports = await portsEnv(readSubgraphList(yaml));
    expect(ports.GREETINGS_PORT).toBeDefined();
    system = spawnScript('start', { ...ports, DATA_DIR: join(copy, '.data') }, copy);
    const [, gatewayUrl] = await system.waitFor(/Apollo Sandbox: (http:\/\/localhost:\d+\/)/, 60_000);
    expect(system.output()).toMatch(new RegExp(`greetings listening[\\s\\S]*?:${ports.GREETINGS_PORT}/graphql`));

    const signUp = await gql(gatewayUrl!, SIGN_UP, { input: { name: 'Ada Lovelace', email: 'ada@example.com' } });
    expect(signUp.data.addUser.errors).toEqual([]);
    const read = await gql(gatewayUrl!, 'query($id: ID!) { user(id: $id) { name greeting } }', { id: signUp.data.addUser.user.id });
    expect(read.errors).toBeUndefined();
    expect(read.data.user).toEqual({ name: 'Ada Lovelace', greeting: 'Hello, Ada Lovelace!' });

    expect(await system.stop('SIGINT')).toBe(0);
    expect(system.output()).toContain('shutdown complete');
  }, 180_000);
});
