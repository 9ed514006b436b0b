import { SubgraphSource } from '../../gateway/src/subgraph-source';
import { startFakeSubgraph, type FakeSubgraph } from '../helpers/fake-subgraph';

const QUERY = 'query Users__users__0{users(first:20){edges{node{id name}}}}';
const MUTATION = 'mutation SignUp__users__0($input:AddUserInput!){addUser(input:$input){errors{code}}}';

/** What the gateway's executor hands a data source for one fetch of an incoming operation. */
const fetchOf = (query: string, requestId: string) =>
  ({ kind: 'incoming operation', request: { query, variables: {} }, context: { requestId }, incomingRequestContext: {} }) as never;

describe('merging identical subgraph queries in flight', () => {
  let subgraph: FakeSubgraph;

  beforeEach(async () => {
    subgraph = await startFakeSubgraph({ mode: 'hold' });
  });

  afterEach(async () => {
    await subgraph.close();
  });

  const sourceFor = (mergeInflightQueries: boolean) =>
    new SubgraphSource({ name: 'users', url: subgraph.url, timeoutMs: 5_000, mergeInflightQueries });

  it('sends identical queries in flight at once as one call, each caller with its own copy of the answer', async () => {
    const source = sourceFor(true);
    const [first, second] = [source.process(fetchOf(QUERY, 'a')), source.process(fetchOf(QUERY, 'b'))];
    (await subgraph.nextRequest(1)).answer({ data: { users: { edges: [] } } });
    const [a, b] = await Promise.all([first, second]);
    expect(a.data).toEqual({ users: { edges: [] } });
    expect(b.data).toEqual(a.data);
    expect(b.data).not.toBe(a.data);
    expect(subgraph.received).toHaveLength(1);
    // Once answered, the next identical query is a call of its own.
    const third = source.process(fetchOf(QUERY, 'c'));
    (await subgraph.nextRequest(2)).answer({ data: { users: { edges: [] } } });
    await third;
    expect(subgraph.received).toHaveLength(2);
  });

  it('never merges mutations', async () => {
    const source = sourceFor(true);
    const calls = [source.process(fetchOf(MUTATION, 'a')), source.process(fetchOf(MUTATION, 'b'))];
    for (const n of [1, 2]) (await subgraph.nextRequest(n)).answer({ data: { addUser: { errors: [] } } });
    await Promise.all(calls);
    expect(subgraph.received.map((request) => request.headers['x-request-id'])).toEqual(['a', 'b']);
  });

  it('merges nothing unless asked to', async () => {
    const source = sourceFor(false);
    const calls = [source.process(fetchOf(QUERY, 'a')), source.process(fetchOf(QUERY, 'b'))];
    for (const n of [1, 2]) (await subgraph.nextRequest(n)).answer({ data: { users: { edges: [] } } });
    await Promise.all(calls);
    expect(subgraph.received).toHaveLength(2);
  });
});
