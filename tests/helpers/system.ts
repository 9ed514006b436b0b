import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startGateway } from '../../gateway/src/service';
import { loadConfig, type Config } from '../../lib/config';
import type { RunningService } from '../../lib/service';
import type { RetryPolicy } from '../../subgraphs/notifications/src/delivery-worker';
import { startNotificationsService } from '../../subgraphs/notifications/src/service';
import { startUsersService } from '../../subgraphs/users/src/service';

export interface TestSystem {
  readonly dataDir: string;
  readonly gatewayUrl: string;
  /** Stops one subgraph; `start` brings it back on the same port. */
  stop(service: 'users' | 'notifications'): Promise<void>;
  start(service: 'users' | 'notifications'): Promise<void>;
  /** Stops everything; the data directory stays for a restart. */
  close(): Promise<void>;
}

export const FAST_RETRY: RetryPolicy = { baseMs: 50, maxMs: 400 };

export const makeDataDir = () => mkdtemp(join(tmpdir(), 'signup-e2e-'));
export const removeDataDir = (dir: string) => rm(dir, { recursive: true, force: true });

/** All three services in this process over real HTTP on free ports, as `npm start` runs them. */
export const startSystem = async ({ dataDir, smtpUrl }: { dataDir: string; smtpUrl?: string }): Promise<TestSystem> => {
  const logger = pino({ level: 'silent' });
  let config: Config = loadConfig({
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    USERS_PORT: '0',
    NOTIFICATIONS_PORT: '0',
    GATEWAY_PORT: '0',
    ...(smtpUrl ? { SMTP_URL: smtpUrl } : {}),
  });
  const starters = {
    users: () => startUsersService(config, logger),
    notifications: () => startNotificationsService(config, logger, { retry: FAST_RETRY }),
  };
  const running: Partial<Record<'users' | 'notifications', RunningService>> = {};
  running.users = await starters.users();
  running.notifications = await starters.notifications();
  // Pin the ports, so a stopped subgraph comes back where the gateway looks for it.
  config = Object.freeze({
    ...config,
    USERS_PORT: running.users.port,
    NOTIFICATIONS_PORT: running.notifications.port,
    USERS_URL: running.users.url,
    NOTIFICATIONS_URL: running.notifications.url,
  });
  const gateway = await startGateway(config, logger);
  const stop = async (service: 'users' | 'notifications') => {
    await running[service]?.stop();
    delete running[service];
  };
  return {
    dataDir,
    gatewayUrl: gateway.url,
    stop,
    async start(service) {
      running[service] ??= await starters[service]();
    },
    async close() {
      await gateway.stop();
      for (const service of ['notifications', 'users'] as const) await stop(service);
    },
  };
};
