import { runMain } from '../../../lib/main';
import { startNotificationsService } from './service';

void runMain('notifications', async (config, logger) => [await startNotificationsService(config, logger)]);
