import { Client, type ClientConfig } from 'pg';
import type { Logger } from 'pino';
import { CHANNEL } from './records';

export interface Notifier {
  /** Calls `onWake` when `stream` gets new records, and after every reconnect (notifications may have been missed). */
  listen(stream: string, onWake: () => void): () => void;
  close(): Promise<void>;
}

const RETRY_MS = { first: 200, max: 5_000 };

/**
 * One LISTEN connection per backend. It reconnects by itself when the
 * database goes away, and wakes every listener once it is back.
 */
export const startNotifier = (config: ClientConfig, logger: Logger): Notifier => {
  const listeners = new Map<string, Set<() => void>>();
  let client: Client | undefined;
  let closed = false;
  let retryMs = RETRY_MS.first;
  let timer: NodeJS.Timeout | undefined;

  const wakeAll = () => {
    for (const set of listeners.values()) for (const onWake of set) onWake();
  };

  const connect = async () => {
    timer = undefined;
    if (closed) return;
    const next = new Client(config);
    let lost = false;
    const onLost = (error?: Error) => {
      if (lost) return;
      lost = true;
      if (client === next) client = undefined;
      void next.end().catch(() => undefined);
      if (closed) return;
      logger.warn({ err: error, retryMs }, 'lost the database notification connection; reconnecting');
      timer = setTimeout(() => void connect(), retryMs);
      retryMs = Math.min(retryMs * 2, RETRY_MS.max);
    };
    next.on('error', onLost);
    next.on('end', () => onLost());
    next.on('notification', ({ payload = '' }) => {
      const stream = payload.slice(0, payload.lastIndexOf(':'));
      for (const onWake of listeners.get(stream) ?? []) onWake();
    });
    try {
      await next.connect();
      await next.query(`LISTEN ${CHANNEL}`);
    } catch (error) {
      onLost(error as Error);
      return;
    }
    if (closed) {
      await next.end().catch(() => undefined);
      return;
    }
    client = next;
    retryMs = RETRY_MS.first;
    wakeAll();
  };

  const started = connect();

  return {
    listen(stream, onWake) {
      const set = listeners.get(stream) ?? new Set();
      listeners.set(stream, set.add(onWake));
      return () => void set.delete(onWake);
    },
    async close() {
      closed = true;
      clearTimeout(timer);
      await started;
      await client?.end().catch(() => undefined);
    },
  };
};
