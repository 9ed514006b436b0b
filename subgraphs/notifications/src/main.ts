import { runMain } from '../../../lib/main';
import { startNotificationsService } from './service';

void runMain('notifications', async (config, logger, fatal) => [await startNotificationsService(config, logger, fatal)]);
