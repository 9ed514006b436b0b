import pino, { type Logger } from 'pino';
import { startSmtpServer, type TestSmtpServer } from './smtp';
import { makeTempDir, removeTempDir } from './temp-dir';
import { DEV_AUDIENCE, mintDevToken, startDevIssuer } from '../../gateway/src/auth/dev-issuer';
import { startGateway } from '../../gateway/src/service';
import { loadConfig } from '../../lib/config';
import { listSystem, type SystemConfig } from '../../system/system';
import { IDENTITY_HEADER, SUBGRAPH_SECRET_HEADER, identitySigner, type RunningService } from '../../lib/service';
import type { NotificationsConfig } from '../../subgraphs/notifications/src/config';
import type { UsersConfig } from '../../subgraphs/users/src/config';

/** The config of a system of the subgraphs supergraph.yaml lists, typed with the keys of the two these tests know. */
export type TestSystemConfig = SystemConfig & UsersConfig & NotificationsConfig;

export interface TestSystem {
  readonly dataDir: string;
  readonly gatewayUrl: string;
  /** The subgraphs' GraphQL URLs, for requests that bypass the gateway. */
  readonly usersUrl: string;
  readonly notificationsUrl: string;
  /** Where each subgraph listens, by name: it comes back there after `stop` and `start`. */
  readonly ports: Readonly<Record<string, number>>;
  /** The configuration every service was started with, each subgraph's `<NAME>_PORT` and `<NAME>_URL` pinned to where it listens. */
  readonly config: TestSystemConfig;
  /** A token for `subject` from the system's token issuer, with these scopes. */
  token(subject: string, scopes?: readonly string[]): Promise<string>;
  /** A token of an operator who may read every user and resend anyone's email (`users:read notifications:write`). */
  readonly operatorToken: string;
  /** Another gateway on a free port in front of these subgraphs, its config changed by `overrides`; the caller stops it. */
  startGateway(overrides?: Partial<TestSystemConfig>, logger?: Logger): Promise<RunningService>;
  /** Stops one subgraph of the list; `start` brings it back on the same port. */
  stop(subgraph: string): Promise<void>;
  start(subgraph: string): Promise<void>;
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

/** What the test systems share unless a test says otherwise: the subgraphs trust only the gateway, which forwards who is calling. */
export const TEST_SUBGRAPH_SECRET = 'test-subgraph-secret-0123456789';

/** What a gateway sends a subgraph for an operator (`users:read notifications:write`): for tests that call a subgraph directly. */
export const operatorHeaders = (subgraphSecret = TEST_SUBGRAPH_SECRET): Record<string, string> => ({
  [SUBGRAPH_SECRET_HEADER]: subgraphSecret,
  [IDENTITY_HEADER]: identitySigner(subgraphSecret)({ userId: undefined, scopes: new Set(['users:read', 'notifications:write']) }),
});

/** An operator's token from the development issuer that `npm start` runs on `dataDir` (minted anew: a restart moves the issuer). */
export const operatorTokenFor = (dataDir: string): Promise<string> =>
  mintDevToken({ dataDir, subject: 'operator', scopes: ['users:read', 'notifications:write'], expiresInS: 3600 });

export interface TokenIssuer {
  /** What gateway and subgraph processes need to verify tokens and trust each other. */
  readonly env: Readonly<Record<string, string>>;
  readonly operatorToken: string;
  close(): Promise<void>;
}

/** The development token issuer in this process, on a free port, for tests that run the services as processes. */
export const startTokenIssuer = async (dataDir: string): Promise<TokenIssuer> => {
  const issuer = await startDevIssuer({ dataDir, port: 0, logger: pino({ level: 'silent' }) });
  return {
    env: { AUTH_ISSUER: issuer.url, AUTH_AUDIENCE: DEV_AUDIENCE, SUBGRAPH_SECRET: TEST_SUBGRAPH_SECRET },
    operatorToken: await operatorTokenFor(dataDir),
    close: () => issuer.stop(),
  };
};

/**
 * Every service supergraph.yaml lists, and the gateway, in this process over
 * real HTTP on free ports, as `npm start` runs them, with the development
 * token issuer on a free port too (unless `env` names an issuer).
 */
export const startSystem = async ({ dataDir, smtpUrl, env = {}, logger = pino({ level: 'silent' }) }: SystemOptions): Promise<TestSystem> => {
  const system = listSystem();
  const issuer = env.AUTH_ISSUER || env.AUTH_JWKS_URL ? undefined : await startDevIssuer({ dataDir, port: 0, logger });
  let config = loadConfig(system.config, {
    NODE_ENV: 'test',
    DATA_DIR: dataDir,
    ...Object.fromEntries(system.list.subgraphs.map((entry) => [entry.portKey, '0'])),
    GATEWAY_PORT: '0',
    SUBGRAPH_SECRET: TEST_SUBGRAPH_SECRET,
    ...(issuer ? { AUTH_ISSUER: issuer.url, AUTH_AUDIENCE: DEV_AUDIENCE } : {}),
    ...FAST_RETRY,
    ...(smtpUrl ? { SMTP_URL: smtpUrl } : {}),
    ...env,
  }) as TestSystemConfig;
  const token = (subject: string, scopes: readonly string[] = []) => mintDevToken({ dataDir, subject, scopes, expiresInS: 3600 });
  const operatorToken = issuer ? await operatorTokenFor(dataDir) : '';
  const subgraphNamed = (name: string) => {
    const subgraph = system.subgraphs.find(({ entry }) => entry.name === name);
    if (!subgraph) throw new Error(`startSystem: supergraph.yaml lists no subgraph "${name}"`);
    return subgraph;
  };
  const running = new Map<string, RunningService>();
  for (const subgraph of system.subgraphs) running.set(subgraph.entry.name, await subgraph.start(config, logger));
  const urls = Object.fromEntries([...running].map(([name, service]) => [name, service.url]));
  const ports = Object.fromEntries([...running].map(([name, service]) => [name, service.port]));
  // Pin the ports, so a stopped subgraph comes back where the gateway looks for it.
  config = Object.freeze({
    ...config,
    ...Object.fromEntries(system.subgraphs.flatMap(({ entry }) => [[entry.portKey, ports[entry.name]], [entry.urlKey, urls[entry.name]]])),
  });
  const gateway = await startGateway(config, logger, urls);
  const stop = async (name: string) => {
    await running.get(name)?.stop();
    running.delete(name);
  };
  return {
    dataDir,
    token,
    operatorToken,
    gatewayUrl: gateway.url,
    usersUrl: urls.users!,
    notificationsUrl: urls.notifications!,
    ports,
    config,
    stop,
    startGateway: (overrides = {}, gatewayLogger = pino({ level: 'silent' })) =>
      startGateway({ ...config, GATEWAY_PORT: 0, ...overrides }, gatewayLogger, urls),
    async start(name) {
      if (!running.has(name)) running.set(name, await subgraphNamed(name).start(config, logger));
    },
    async close() {
      await gateway.stop();
      for (const { entry } of [...system.subgraphs].reverse()) await stop(entry.name);
      await issuer?.stop();
    },
  };
};

export interface SystemFixture {
  readonly system: TestSystem;
  readonly smtp: TestSmtpServer;
  readonly dataDir: string;
  /** Stops every service and starts them again on the same data directory and SMTP server. */
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
 * A real SMTP server, a temp data directory and every service, started
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
