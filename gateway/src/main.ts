import { runMain } from '../../lib/main';
import { startGateway } from './service';

void runMain('gateway', async (config, logger) => [await startGateway(config, logger)]);
