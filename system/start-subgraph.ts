import { runMain } from '../lib/run-main';
import { readSubgraphList, subgraphNamed } from '../lib/subgraph-list';
import { listedSubgraph, type ListedSubgraph } from './subgraph-services';

// One subgraph of supergraph.yaml in this process: `npm run start:subgraph -- <name>`.
const name = process.argv[2] ?? '';
let subgraph: ListedSubgraph | undefined;
void runMain(
  name || 'subgraph',
  () => (subgraph = listedSubgraph(subgraphNamed(readSubgraphList(), name))).config,
  async (config, logger, fatal) => [await subgraph!.start(config, logger, fatal)],
);
