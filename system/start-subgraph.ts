import { ConfigError } from '../lib/config';
import { runMain } from '../lib/run-main';
import { readSubgraphList, subgraphNamed } from '../lib/subgraph-list';
import { listedSubgraph, type ListedSubgraph } from './subgraph-services';

// One subgraph of supergraph.yaml in this process: `npm run start:subgraph -- <name>`.
const name = process.argv[2] ?? '';

/** The named subgraph of the list, read inside runMain so that a wrong name is reported as config is. */
const named = (): ListedSubgraph => {
  const list = readSubgraphList();
  if (!name) throw new ConfigError(`Usage: npm run start:subgraph -- <name>, one of ${list.subgraphs.map((subgraph) => subgraph.name).join(', ')}`);
  return listedSubgraph(subgraphNamed(list, name));
};

let subgraph: ListedSubgraph | undefined;
void runMain(
  name || 'start:subgraph',
  () => (subgraph = named()).config,
  async (config, logger, fatal) => [await subgraph!.start(config, logger, fatal)],
);
