import { runMain } from '../../../lib/run-main';
import { notificationsConfig } from './config';
import { startNotificationsService } from './service';

void runMain('notifications', notificationsConfig, async (config, logger, fatal) => [await startNotificationsService(config, logger, fatal)]);
