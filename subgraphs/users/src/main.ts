import { runMain } from '../../../lib/main';
import { startUsersService } from './service';

void runMain('users', async (config, logger, fatal) => [await startUsersService(config, logger, fatal)]);
