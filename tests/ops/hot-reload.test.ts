import { copyFile, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ROOT } from '../helpers/paths';
import { eventually, gql } from '../helpers/graphql';
import { recordingLogger } from '../helpers/logs';
import { useSystem } from '../helpers/system';

const ORIGINAL = join(ROOT, 'gateway', 'supergraph.graphql');
const DESCRIBE_USER = '{ __type(name: "User") { description } }';
const userDescription = async (url: string): Promise<string | undefined> => (await gql(url, DESCRIBE_USER)).data?.__type?.description;

describe('hot reload of the supergraph file', () => {
  const { logger, lines } = recordingLogger('info');
  let file: string;
  let original: string;
  // The gateway follows a copy of the supergraph in the data directory, which the tests rewrite.
  const fixture = useSystem({
    logger,
    env: async (dataDir) => {
      file = join(dataDir, 'supergraph.graphql');
      await copyFile(ORIGINAL, file);
      original = await readFile(file, 'utf8');
      return { SUPERGRAPH_PATH: file };
    },
  });

  it('serves a changed supergraph without a restart', async () => {
    expect(await userDescription(fixture.system.gatewayUrl)).toBe('A person who signed up. Owned by the users subgraph.');
    // Written aside and renamed into place, as an editor or a deploy would.
    await writeFile(`${file}.tmp`, original.replace('A person who signed up.', 'Someone who signed up.'));
    await rename(`${file}.tmp`, file);

    await eventually(() => userDescription(fixture.system.gatewayUrl), (description) => description === 'Someone who signed up. Owned by the users subgraph.');
    expect(lines.some((line) => line.msg === 'supergraph reloaded')).toBe(true);
  });

  it('keeps the previous supergraph, and says why, when the new one does not load', async () => {
    const failures = () => lines.filter((line) => line.msg?.startsWith('supergraph not reloaded')).length;
    const before = failures();
    await writeFile(file, 'schema @link(url: "https://specs.apollo.dev/link/v1.0") { query: Query }\ntype Query {');

    await eventually(async () => failures(), (count) => count > before);
    const failure = lines.filter((line) => line.msg?.startsWith('supergraph not reloaded')).at(-1)!;
    expect(failure).toMatchObject({ level: 50, file, err: { message: expect.stringMatching(/Syntax Error/) } });
    expect(await userDescription(fixture.system.gatewayUrl)).toBe('Someone who signed up. Owned by the users subgraph.');
    const signUp = await gql(fixture.system.gatewayUrl, 'mutation { addUser(input: { name: "Ada", email: "ada@example.com" }) { errors { code } } }');
    expect(signUp.data.addUser.errors).toEqual([]);

    const metrics = await (await fetch(new URL('/metrics', fixture.system.gatewayUrl))).text();
    expect(metrics).toMatch(/supergraph_reloads_total\{[^}]*result="updated"[^}]*\} 1/);
    expect(metrics).toMatch(/supergraph_reloads_total\{[^}]*result="failed"[^}]*\} [1-9]/);
  });

  it("enforces the new supergraph's policy from the moment it serves it", async () => {
    const NAME = '{ user(id: "nobody") { name } }';
    expect(await gql(fixture.system.gatewayUrl, NAME)).toEqual({ status: 200, data: { user: null } });
    const guarded = original
      .replace('A person who signed up.', 'Someone who signed up.')
      .replace('name: String! @join__field(graph: USERS)', 'name: String! @join__field(graph: USERS) @authenticated');
    expect(guarded).not.toBe(original.replace('A person who signed up.', 'Someone who signed up.'));
    await writeFile(`${file}.tmp`, guarded);
    await rename(`${file}.tmp`, file);

    const refused = await eventually(() => gql(fixture.system.gatewayUrl, NAME), (response) => response.errors !== undefined);
    expect(refused.data).toBeUndefined();
    expect(refused.errors).toEqual([expect.objectContaining({ path: ['user', 'name'], extensions: expect.objectContaining({ code: 'UNAUTHORIZED_FIELD_OR_TYPE' }) })]);
    const signedIn = await gql(fixture.system.gatewayUrl, NAME, {}, await fixture.system.token('someone'));
    expect(signedIn).toEqual({ status: 200, data: { user: null } });
  });
});
