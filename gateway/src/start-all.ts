import { runMain } from '../../lib/main';
import { startNotificationsService } from '../../subgraphs/notifications/src/service';
import { startUsersService } from '../../subgraphs/users/src/service';
import { startGateway } from './service';

// The whole system in one process, embedded defaults: what `npm start` runs.
void runMain('all', async (config, logger, fatal) => {
  const users = await startUsersService(config, logger, fatal);
  const notifications = await startNotificationsService(config, logger, fatal);
  const gateway = await startGateway(config, logger);
  // Production serves no landing page: there is no Sandbox to point at.
  logger.info(config.NODE_ENV === 'production' ? `GraphQL endpoint: ${gateway.url}` : `Apollo Sandbox: ${gateway.url}`);
  return [users, notifications, gateway];
});
