import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { SubgraphSource } from '../../gateway/src/subgraph-source';

const QUERY = 'query Users__users__0{users(first:1){edges{node{id}}}}';
const MUTATION = 'mutation SignUp__users__0{addUser(input:{name:"A",email:"a@example.com"}){errors{code}}}';

const fetchOf = (query: string) =>
  ({ kind: 'incoming operation', request: { query, variables: {} }, context: { requestId: 'r' }, incomingRequestContext: {} }) as never;

/**
 * A subgraph that drops a kept-alive connection when the second request
 * arrives on it, as a server whose keep-alive timeout fired just then does.
 */
const startDroppingSubgraph = async () => {
  const served = new WeakMap<Socket, number>();
  let connections = 0;
  const server: Server = createServer((req, res) => {
    const count = (served.get(req.socket) ?? 0) + 1;
    served.set(req.socket, count);
    req.resume();
    req.on('end', () => {
      if (count === 2) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data: { ok: true } }));
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};

/** Lets the pool take the first call's connection back, so the next call reuses it. */
const idle = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('a kept-alive subgraph connection closed as it is reused', () => {
  let subgraph: Awaited<ReturnType<typeof startDroppingSubgraph>>;

  beforeEach(async () => {
    subgraph = await startDroppingSubgraph();
  });

  afterEach(async () => {
    await subgraph.close();
  });

  it('sends a query again on a new connection', async () => {
    const source = new SubgraphSource({ name: 'users', url: subgraph.url, timeoutMs: 5_000 });
    await source.process(fetchOf(QUERY));
    await idle();
    await expect(source.process(fetchOf(QUERY))).resolves.toMatchObject({ data: { ok: true } });
    expect(subgraph.connections()).toBe(2);
  });

  it('never sends a mutation twice: the call fails, naming the service', async () => {
    const source = new SubgraphSource({ name: 'users', url: subgraph.url, timeoutMs: 5_000 });
    await source.process(fetchOf(MUTATION));
    await idle();
    await expect(source.process(fetchOf(MUTATION))).rejects.toMatchObject({
      message: 'The users service is unavailable: connection closed',
      extensions: expect.objectContaining({ code: 'SUBGRAPH_UNAVAILABLE', reason: 'unreachable' }),
    });
    expect(subgraph.connections()).toBe(1);
  });
});
