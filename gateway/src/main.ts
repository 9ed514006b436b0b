import { runMain } from '../../lib/run-main';
import { gatewayConfig } from './config';
import { startGateway } from './service';

void runMain('gateway', gatewayConfig, async (config, logger) => [await startGateway(config, logger)]);
