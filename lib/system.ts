// The composition root of `npm start`: the one module in lib/ that knows the services.
import { gatewayConfig } from '../gateway/src/config';
import { startGateway } from '../gateway/src/service';
import { notificationsConfig } from '../subgraphs/notifications/src/config';
import { startNotificationsService } from '../subgraphs/notifications/src/service';
import { usersConfig } from '../subgraphs/users/src/config';
import { startUsersService } from '../subgraphs/users/src/service';
import { mergeConfigs, type ConfigOf } from './config';
import type { Logger } from './logger';
import type { RunningService } from './service';

/** Every key of the three services. */
export const systemConfig = mergeConfigs(gatewayConfig, mergeConfigs(usersConfig, notificationsConfig));

export type SystemConfig = ConfigOf<typeof systemConfig>;

/** The three services in this process, subgraphs first; the gateway calls them where they listen unless told otherwise. */
export const startAll = async (config: SystemConfig, logger: Logger, fatal?: (error: Error) => void): Promise<RunningService[]> => {
  const users = await startUsersService(config, logger, fatal);
  const notifications = await startNotificationsService(config, logger, fatal);
  // A port of 0 is only known now.
  const gateway = await startGateway(
    { ...config, USERS_URL: config.USERS_URL ?? users.url, NOTIFICATIONS_URL: config.NOTIFICATIONS_URL ?? notifications.url },
    logger,
  );
  // Production serves no landing page: there is no Sandbox to point at.
  logger.info(config.NODE_ENV === 'production' ? `GraphQL endpoint: ${gateway.url}` : `Apollo Sandbox: ${gateway.url}`);
  return [users, notifications, gateway];
};
