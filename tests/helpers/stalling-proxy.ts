import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy on loopback that can hold back what the server answers while still passing on what
 * clients send: the server does the work, the client hears nothing, as when a network stalls on the
 * way back. `resume` delivers what was held, in order.
 */
export interface StallingProxy {
  readonly port: number;
  stallAnswers(): void;
  resume(): void;
  close(): Promise<void>;
}

export const startStallingProxy = async (target: { host: string; port: number }): Promise<StallingProxy> => {
  let stalled = false;
  const held: (() => void)[] = [];
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };
  const server = createServer((client) => {
    const upstream = connect(target);
    track(client);
    track(upstream);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => (stalled ? held.push(() => client.write(chunk)) : client.write(chunk)));
    upstream.on('end', () => (stalled ? held.push(() => client.end()) : client.end()));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    stallAnswers: () => {
      stalled = true;
    },
    resume: () => {
      stalled = false;
      for (const deliver of held.splice(0)) deliver();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
};
