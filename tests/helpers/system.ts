import pino, { type Logger } from 'pino';
import { startSmtpServer, type TestSmtpServer } from './smtp';
import { makeTempDir, removeTempDir } from './temp-dir';
import { startGateway } from '../../gateway/src/service';
import { loadConfig } from '../../lib/config';
import { systemConfig, type SystemConfig } from '../../lib/system';
import type { RunningService } from '../../lib/service';
import { startNotificationsService } from '../../subgraphs/notifications/src/service';
import { startUsersService } from '../../subgraphs/users/src/service';

export interface TestSystem {
  readonly dataDir: string;
  readonly gatewayUrl: string;
  /** The subgraphs' GraphQL URLs, for requests that bypass the gateway. */
  readonly usersUrl: string;
  readonly notificationsUrl: string;
  /** The configuration every service was started with. */
  readonly config: SystemConfig;
  /** Stops one subgraph; `start` brings it back on the same port. */
  stop(service: 'users' | 'notifications'): Promise<void>;
  start(service: 'users' | 'notifications'): Promise<void>;
  /** Stops everything; the data directory stays for a restart. */
  close(): Promise<void>;
}

export interface SystemOptions {
  readonly dataDir: string;
  readonly smtpUrl?: string;
  /** Environment variables on top of the test defaults, as `loadConfig` reads them. */
  readonly env?: Readonly<Record<string, string>>;
  /** Silent unless given. */
  readonly logger?: Logger;
}

/** Quick SMTP retries, so that tests of outages finish in seconds. */
export const FAST_RETRY = { SMTP_RETRY_BASE_MS: '50', SMTP_RETRY_MAX_MS: '400' } as const;

/** All three services in this process over real HTTP on free ports, as `npm start` runs them. */
export const startSystem = async ({ dataDir, smtpUrl, env = {}, logger = pino({ level: 'silent' }) }: SystemOptions): Promise<TestSystem> => {
  let config: SystemConfig = loadConfig(systemConfig, {
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    USERS_PORT: '0',
    NOTIFICATIONS_PORT: '0',
    GATEWAY_PORT: '0',
    ...FAST_RETRY,
    ...(smtpUrl ? { SMTP_URL: smtpUrl } : {}),
    ...env,
  });
  const starters = {
    users: () => startUsersService(config, logger),
    notifications: () => startNotificationsService(config, logger),
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
    usersUrl: config.USERS_URL!,
    notificationsUrl: config.NOTIFICATIONS_URL!,
    config,
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

export interface SystemFixture {
  readonly system: TestSystem;
  readonly smtp: TestSmtpServer;
  readonly dataDir: string;
  /** Stops all three services and starts them again on the same data directory and SMTP server. */
  restart(): Promise<void>;
}

export interface FixtureOptions {
  /** On top of the test defaults; a function is called once the suite starts (for values made then, such as a database). */
  readonly env?: Readonly<Record<string, string>> | ((dataDir: string) => Promise<Readonly<Record<string, string>>>);
  readonly logger?: Logger;
  /** `suite` (default): one system for all the suite's tests; `test`: a fresh one for each test. */
  readonly per?: 'suite' | 'test';
}

/**
 * A real SMTP server, a temp data directory and the three services, started
 * before the suite (or each test) and removed after it.
 */
export const useSystem = ({ env = {}, logger, per = 'suite' }: FixtureOptions = {}): SystemFixture => {
  let started: { system: TestSystem; smtp: TestSmtpServer; dataDir: string; env: Readonly<Record<string, string>> } | undefined;
  const current = () => {
    if (!started) throw new Error('useSystem: the system starts in beforeAll; use it inside tests');
    return started;
  };
  const start = (smtp: TestSmtpServer, dataDir: string, resolvedEnv: Readonly<Record<string, string>>) =>
    startSystem({ dataDir, smtpUrl: smtp.url, env: resolvedEnv, ...(logger ? { logger } : {}) });
  let smtp: TestSmtpServer | undefined;
  let dataDir: string | undefined;
  const [before, after] = per === 'suite' ? [beforeAll, afterAll] : [beforeEach, afterEach];
  before(async () => {
    smtp = await startSmtpServer();
    dataDir = await makeTempDir('signup-e2e-');
    const resolvedEnv = typeof env === 'function' ? await env(dataDir) : env;
    started = { system: await start(smtp, dataDir, resolvedEnv), smtp, dataDir, env: resolvedEnv };
  });
  after(async () => {
    await started?.system.close();
    await smtp?.close();
    if (dataDir) await removeTempDir(dataDir);
    started = undefined;
  });
  return {
    get system() {
      return current().system;
    },
    get smtp() {
      return current().smtp;
    },
    get dataDir() {
      return current().dataDir;
    },
    async restart() {
      const running = current();
      await running.system.close();
      started = { ...running, system: await start(running.smtp, running.dataDir, running.env) };
    },
  };
};
