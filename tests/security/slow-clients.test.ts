import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { freePort, spawnService, type ServiceProcess } from '../helpers/processes';
import { makeTempDir, removeTempDir } from '../helpers/temp-dir';

// Every service's HTTP server (gateway and subgraphs alike) is made by lib/service/listen.ts:
// the users subgraph, alone as a process, stands for all three.

const HEADERS_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 4_000;
const MAX_CONNECTIONS = 400;
const SLOW_CLIENTS = 300;
/** Node checks for expired requests every second here (listen.ts), so a timeout is enforced within it. */
const CHECK_MS = 1_000;
const SLACK_MS = 2_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const rssKb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);

interface Client {
  readonly socket: Socket;
  /** Milliseconds from opening to the server closing it; undefined while open. */
  closedAfterMs?: number;
}

/** `count` sockets to `port`, each sending `first`, then `drip` every 500 ms until the server closes it. */
const openClients = async (port: number, count: number, first: string, drip: string): Promise<Client[]> =>
  Promise.all(
    Array.from({ length: count }, () => {
      return new Promise<Client>((resolve, reject) => {
        const opened = performance.now();
        const socket = connect(port, '127.0.0.1');
        const client: Client = { socket };
        let timer: NodeJS.Timeout | undefined;
        socket.once('connect', () => {
          if (first) socket.write(first);
          if (drip) timer = setInterval(() => socket.writable && socket.write(drip), 500);
          resolve(client);
        });
        socket.on('error', () => undefined); // a reset by the server is one way of closing
        socket.once('close', () => {
          clearInterval(timer);
          client.closedAfterMs = performance.now() - opened;
        });
        socket.once('error', reject);
      });
    }),
  );

describe('slow and idle clients', () => {
  let service: ServiceProcess;
  let port: number;
  let dataDir: string;
  const clients: Client[] = [];

  beforeAll(async () => {
    dataDir = await makeTempDir();
    port = await freePort();
    service = spawnService('system/start-subgraph.ts users', {
      USERS_PORT: String(port),
      DATA_DIR: dataDir,
      HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      HTTP_MAX_CONNECTIONS: String(MAX_CONNECTIONS),
    });
    await service.waitFor(/users listening/, 30_000);
  });

  afterEach(() => {
    for (const { socket } of clients.splice(0)) socket.destroy();
  });

  afterAll(async () => {
    await service.kill();
    await removeTempDir(dataDir);
  });

  const live = async () => (await fetch(`http://127.0.0.1:${port}/health/live`)).status;

  it('closes clients trickling their headers a byte at a time once the headers timeout is over, and answers others meanwhile', async () => {
    const before = rssKb(service.child.pid!);
    clients.push(...(await openClients(port, SLOW_CLIENTS, 'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ', 'x')));

    await sleep(HEADERS_TIMEOUT_MS / 2);
    expect(await live()).toBe(200);
    const during = rssKb(service.child.pid!);
    await sleep(HEADERS_TIMEOUT_MS / 2 + CHECK_MS + SLACK_MS);

    const open = clients.filter((client) => client.closedAfterMs === undefined);
    expect(open).toHaveLength(0);
    expect(Math.max(...clients.map((client) => client.closedAfterMs!))).toBeLessThan(HEADERS_TIMEOUT_MS + CHECK_MS + SLACK_MS);
    expect(Math.min(...clients.map((client) => client.closedAfterMs!))).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
    expect(during - before).toBeLessThan(64 * 1024); // KiB: a few hundred held sockets cost little
    expect(await live()).toBe(200);
  }, 30_000);

  it('closes a client trickling its body once the request timeout is over', async () => {
    const head = 'POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n{';
    clients.push(...(await openClients(port, 20, head, ' ')));

    await sleep(REQUEST_TIMEOUT_MS + CHECK_MS + SLACK_MS);

    expect(clients.filter((client) => client.closedAfterMs === undefined)).toHaveLength(0);
    expect(Math.min(...clients.map((client) => client.closedAfterMs!))).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
  }, 30_000);

  it(`holds at most HTTP_MAX_CONNECTIONS sockets at once: the ones past ${MAX_CONNECTIONS} are closed at once`, async () => {
    clients.push(...(await openClients(port, MAX_CONNECTIONS + 40, '', '')));

    await sleep(500);

    // This test's own keep-alive connection (fetch above) may hold one of the places.
    const open = clients.filter((client) => client.closedAfterMs === undefined).length;
    expect(open).toBeLessThanOrEqual(MAX_CONNECTIONS);
    expect(open).toBeGreaterThanOrEqual(MAX_CONNECTIONS - 1);
    for (const { socket } of clients) socket.destroy();
    await sleep(200);
    expect(await live()).toBe(200);
  }, 30_000);
});
