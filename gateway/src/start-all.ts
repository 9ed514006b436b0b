import { runMain } from '../../lib/main';
import { startNotificationsService } from '../../subgraphs/notifications/src/service';
import { startUsersService } from '../../subgraphs/users/src/service';
import { startGateway } from './service';

// The whole system in one process, embedded defaults: what `npm start` runs.
void runMain('all', async (config, logger, fatal) => {
  const users = await startUsersService(config, logger, fatal);
  const notifications = await startNotificationsService(config, logger, fatal);
  // The gateway calls the subgraphs where they listen (a port of 0 is only known now), unless told otherwise.
  const gateway = await startGateway(
    { ...config, USERS_URL: config.USERS_URL ?? users.url, NOTIFICATIONS_URL: config.NOTIFICATIONS_URL ?? notifications.url },
    logger,
  );
  // Production serves no landing page: there is no Sandbox to point at.
  logger.info(config.NODE_ENV === 'production' ? `GraphQL endpoint: ${gateway.url}` : `Apollo Sandbox: ${gateway.url}`);
  return [users, notifications, gateway];
});
