// The composition root of `npm start`: it stands above the services; lib/ knows none of them,
// and this file knows the subgraphs only through the subgraph list (supergraph.yaml).
import { randomBytes } from 'node:crypto';
import { DEV_AUDIENCE, startDevIssuer } from '../gateway/src/auth/dev-issuer';
import { gatewayConfig } from '../gateway/src/config';
import { startGateway } from '../gateway/src/service';
import { defineConfig, mergeConfigs, port, subgraphConfig, type ConfigOf, type ConfigSpec } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { RunningService } from '../lib/service';
import { readSubgraphList, subgraphUrlsConfig, subgraphUrlsOf, type SubgraphList } from '../lib/subgraph-list';
import { listedSubgraph, type ListedSubgraph } from './subgraph-services';

/** The keys every run of the system reads whatever its subgraphs: the gateway's, a subgraph's, and where the development token issuer listens. */
const baseSystemConfig = mergeConfigs(
  mergeConfigs(gatewayConfig, subgraphConfig),
  defineConfig({ keys: () => ({ DEV_ISSUER_PORT: port(4003) }) }),
);

/** What `startAll` reads by name; each subgraph's own keys and its `<NAME>_PORT` / `<NAME>_URL` are there too, read through the list. */
export type SystemConfig = ConfigOf<typeof baseSystemConfig>;

export interface ListedSystem {
  readonly list: SubgraphList;
  /** In the list's order. */
  readonly subgraphs: readonly ListedSubgraph[];
  /** Every key of every service. */
  readonly config: ConfigSpec<ReturnType<typeof baseSystemConfig.keys>>;
}

/** The system supergraph.yaml lists: each subgraph's service from its folder, and every key they read. */
export const listSystem = (file?: string): ListedSystem => {
  const list = readSubgraphList(file);
  const subgraphs = list.subgraphs.map(listedSubgraph);
  const config = subgraphs.reduce(
    (spec, subgraph) => mergeConfigs(spec, subgraph.config),
    mergeConfigs(baseSystemConfig, subgraphUrlsConfig(list.subgraphs)),
  );
  return { list, subgraphs, config };
};

/** Every key of every listed service, as `npm start` reads them. */
export const systemConfig = (file?: string) => listSystem(file).config;

/**
 * Outside production with no issuer configured: a local token issuer, so that
 * signed-in requests work with no identity provider, and (unless one is set) a
 * subgraph secret made for this run, so that the caller's identity reaches the subgraphs.
 */
const withDevelopmentAuth = async (config: SystemConfig, logger: Logger): Promise<{ config: SystemConfig; issuer?: RunningService }> => {
  if (config.NODE_ENV === 'production' || config.AUTH_ISSUER || config.AUTH_JWKS_URL) return { config };
  const issuer = await startDevIssuer({ dataDir: config.DATA_DIR, port: config.DEV_ISSUER_PORT, logger });
  return {
    config: {
      ...config,
      AUTH_ISSUER: issuer.url,
      AUTH_AUDIENCE: config.AUTH_AUDIENCE ?? DEV_AUDIENCE,
      SUBGRAPH_SECRET: config.SUBGRAPH_SECRET ?? randomBytes(24).toString('base64url'),
    },
    issuer: { ...issuer, stop: () => issuer.stop() },
  };
};

/**
 * Every listed service in this process, subgraphs first in the list's order; the gateway calls each
 * at its `<NAME>_URL`, or where it listens.
 */
export const startAll = async (
  given: SystemConfig,
  logger: Logger,
  fatal?: (error: Error) => void,
  system: ListedSystem = listSystem(),
): Promise<RunningService[]> => {
  if (given.OTEL_SERVICE_NAME) {
    logger.warn('OTEL_SERVICE_NAME names the service of a process that runs one; npm start runs several, and their spans keep their own names');
    given = { ...given, OTEL_SERVICE_NAME: undefined };
  }
  const { config, issuer } = await withDevelopmentAuth(given, logger);
  const subgraphs: RunningService[] = [];
  const stopStarted = async () => {
    for (const running of subgraphs.reverse()) await running.stop();
  };
  try {
    for (const subgraph of system.subgraphs) subgraphs.push(await subgraph.start(config, logger, fatal));
  } catch (error) {
    await stopStarted();
    await issuer?.stop();
    throw error;
  }
  // A port of 0 is only known now.
  const listening = Object.fromEntries(system.subgraphs.map((subgraph, i) => [subgraph.entry.name, subgraphs[i]!.url]));
  const gateway = await startGateway(config, logger, { ...listening, ...subgraphUrlsOf(system.list.subgraphs, config) });
  // Production serves no IDE: there is no Sandbox or GraphiQL to point at.
  if (config.NODE_ENV === 'production') logger.info(`GraphQL endpoint: ${gateway.url}`);
  else {
    logger.info(`Apollo Sandbox: ${gateway.url}`);
    logger.info(`GraphiQL, offline: ${new URL('graphiql/', gateway.url).href}`);
  }
  if (issuer) logger.info('Signed-in requests: `npm run token -- --sub <user id> [--scope users:read]` prints a token for the Authorization header');
  return [...(issuer ? [issuer] : []), ...subgraphs, gateway];
};
