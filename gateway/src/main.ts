import { runMain } from '../../lib/run-main';
import { readSubgraphList, subgraphUrlsOf } from '../../lib/subgraph-list';
import { gatewayConfigFor } from './config';
import { startGateway } from './service';

// Read when the process starts, inside runMain, so that a broken list is reported as config is.
let list: ReturnType<typeof readSubgraphList> | undefined;
void runMain(
  'gateway',
  () => gatewayConfigFor((list = readSubgraphList())),
  async (config, logger) => [await startGateway(config, logger, subgraphUrlsOf(list!.subgraphs, config))],
);
