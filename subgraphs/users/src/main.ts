import { runMain } from '../../../lib/run-main';
import { usersConfig } from './config';
import { startUsersService } from './service';

void runMain('users', usersConfig, async (config, logger, fatal) => [await startUsersService(config, logger, fatal)]);
