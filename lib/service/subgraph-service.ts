import type { ConfigOf, ConfigSpec, subgraphConfig } from '../config';
import type { Logger } from '../logger';
import type { RunningService } from './listen';

/** How `npm start` and `npm run start:subgraph` run a subgraph, told what only they know. */
export interface SubgraphStartOptions {
  /** From the subgraph list's `<NAME>_PORT`; 0: a free one. */
  readonly port: number;
  readonly logger: Logger;
  /** Hears of a failure the service cannot go on after (its log can no longer be written). */
  readonly onFatal?: (error: Error) => void;
}

/**
 * What each subgraph's `src/service.ts` exports as `subgraphService`: the keys it
 * reads besides its port, and how it starts. The subgraph list finds it by its folder.
 */
/** What every subgraph reads at least (lib/config's `subgraphConfig`). */
export type SubgraphKeys = ReturnType<typeof subgraphConfig.keys>;

export interface SubgraphService<T extends SubgraphKeys = SubgraphKeys> {
  readonly config: ConfigSpec<T>;
  // A method, so that a service of any config fits a list of them.
  start(config: ConfigOf<ConfigSpec<T>>, options: SubgraphStartOptions): Promise<RunningService>;
}

export const defineSubgraphService = <T extends SubgraphKeys>(service: SubgraphService<T>): SubgraphService<T> => service;
