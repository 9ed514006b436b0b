import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, mergeConfigs, type ConfigSpec } from '../lib/config';
import type { Logger } from '../lib/logger';
import type { RunningService, SubgraphKeys, SubgraphService } from '../lib/service';
import { subgraphPortOf, subgraphPortsConfig, type SubgraphEntry } from '../lib/subgraph-list';

// A subgraph of the list is run from its folder's src/service.ts, found by convention: adding
// one is its folder and its supergraph.yaml entry, no import here. `..` from this file is the
// project's root, or dist/ in the build, which holds the subgraphs' service modules too.

/** A subgraph of the list with its service: what `npm start` and `npm run start:subgraph` run. */
export interface ListedSubgraph {
  readonly entry: SubgraphEntry;
  /** Its service's keys and its `<NAME>_PORT`. */
  readonly config: ConfigSpec<SubgraphKeys>;
  start(config: object, logger: Logger, onFatal?: (error: Error) => void): Promise<RunningService>;
}

/** The service module of a subgraph, from source or from the build. */
const serviceModuleOf = (name: string): string => join(__dirname, '..', 'subgraphs', name, 'src', 'service');

const isSubgraphService = (value: unknown): value is SubgraphService =>
  typeof value === 'object' && value !== null && 'config' in value && typeof (value as { start?: unknown }).start === 'function';

/** `entry`'s service; a folder without one, or one that exports no `subgraphService`, is a `ConfigError` saying what to add. */
export const listedSubgraph = (entry: SubgraphEntry): ListedSubgraph => {
  const module = serviceModuleOf(entry.name);
  const file = `subgraphs/${entry.name}/src/service.ts`;
  if (!['.ts', '.js'].some((extension) => existsSync(module + extension))) {
    throw new ConfigError(`supergraph.yaml lists "${entry.name}", but there is no ${file}: each subgraph exports its subgraphService from there`);
  }
  // Required when the list is read, not imported: which modules exist is what the list says.
  const { subgraphService } = require(module) as { subgraphService?: unknown };
  if (!isSubgraphService(subgraphService)) {
    throw new ConfigError(`${file} exports no subgraphService: export const subgraphService = defineSubgraphService({ config, start })`);
  }
  return {
    entry,
    config: mergeConfigs(subgraphService.config, subgraphPortsConfig([entry])) as ConfigSpec<SubgraphKeys>,
    start: (config, logger, onFatal) =>
      subgraphService.start(config as never, { port: subgraphPortOf(entry, config), logger, ...(onFatal ? { onFatal } : {}) }),
  };
};
