// The composition root of `npm start`: it stands above the services; lib/ knows none of them.
import { randomBytes } from 'node:crypto';
import { DEV_AUDIENCE, startDevIssuer } from '../gateway/src/auth/dev-issuer';
import { gatewayConfig } from '../gateway/src/config';
import { startGateway } from '../gateway/src/service';
import { notificationsConfig } from '../subgraphs/notifications/src/config';
import { startNotificationsService } from '../subgraphs/notifications/src/service';
import { usersConfig } from '../subgraphs/users/src/config';
import { startUsersService } from '../subgraphs/users/src/service';
import { defineConfig, mergeConfigs, port, type ConfigOf } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { RunningService } from '../lib/service';

/** Every key of the three services, and where the development token issuer listens. */
export const systemConfig = mergeConfigs(
  mergeConfigs(gatewayConfig, mergeConfigs(usersConfig, notificationsConfig)),
  defineConfig({ keys: () => ({ DEV_ISSUER_PORT: port(4003) }) }),
);

export type SystemConfig = ConfigOf<typeof systemConfig>;

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

/** The three services in this process, subgraphs first; the gateway calls them where they listen unless told otherwise. */
export const startAll = async (given: SystemConfig, logger: Logger, fatal?: (error: Error) => void): Promise<RunningService[]> => {
  if (given.OTEL_SERVICE_NAME) {
    logger.warn('OTEL_SERVICE_NAME names the service of a process that runs one; npm start runs three, and their spans keep their own names');
    given = { ...given, OTEL_SERVICE_NAME: undefined };
  }
  const { config, issuer } = await withDevelopmentAuth(given, logger);
  const users = await startUsersService(config, logger, fatal);
  const notifications = await startNotificationsService(config, logger, fatal);
  // A port of 0 is only known now.
  const gateway = await startGateway(
    { ...config, USERS_URL: config.USERS_URL ?? users.url, NOTIFICATIONS_URL: config.NOTIFICATIONS_URL ?? notifications.url },
    logger,
  );
  // Production serves no IDE: there is no Sandbox or GraphiQL to point at.
  if (config.NODE_ENV === 'production') logger.info(`GraphQL endpoint: ${gateway.url}`);
  else {
    logger.info(`Apollo Sandbox: ${gateway.url}`);
    logger.info(`GraphiQL, offline: ${new URL('graphiql/', gateway.url).href}`);
  }
  if (issuer) logger.info('Signed-in requests: `npm run token -- --sub <user id> [--scope users:read]` prints a token for the Authorization header');
  return [...(issuer ? [issuer] : []), users, notifications, gateway];
};
