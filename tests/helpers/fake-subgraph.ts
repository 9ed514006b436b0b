import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  readonly headers: IncomingHttpHeaders;
  readonly body: { query?: string; variables?: unknown; operationName?: string };
  /** Answers this request; `answer` with no argument sends the fake's default body. */
  answer(body?: unknown): void;
}

export interface FakeSubgraph {
  readonly url: string;
  readonly received: ReceivedRequest[];
  /** TCP connections accepted so far: keep-alive shows as fewer connections than requests. */
  connections(): number;
  /** Resolves with the `n`th request (1-based) once it has arrived. */
  nextRequest(n?: number): Promise<ReceivedRequest>;
  close(): Promise<void>;
}

export interface FakeSubgraphOptions {
  /** `auto`: answer at once with `body`; `hold`: wait for `answer()`; `never`: never answer. */
  readonly mode: 'auto' | 'hold' | 'never';
  readonly body?: unknown;
}

/** A stand-in subgraph on a free loopback port that records what the gateway sends it. */
export const startFakeSubgraph = async ({ mode, body = { data: {} } }: FakeSubgraphOptions): Promise<FakeSubgraph> => {
  const received: ReceivedRequest[] = [];
  const waiters: (() => void)[] = [];
  let connections = 0;
  const reply = (res: ServerResponse, payload: unknown) => {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(payload));
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const request: ReceivedRequest = {
        headers: req.headers,
        body: chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {},
        answer: (payload = body) => reply(res, payload),
      };
      received.push(request);
      for (const wake of waiters.splice(0)) wake();
      if (mode === 'auto') request.answer();
    });
  });
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    received,
    connections: () => connections,
    nextRequest(n = received.length + 1) {
      return new Promise((resolve) => {
        const check = () => (received.length >= n ? resolve(received[n - 1]!) : waiters.push(check));
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
};
