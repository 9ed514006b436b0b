import { runMain } from '../lib/run-main';
import { listSystem, startAll, type ListedSystem } from './system';

// The whole system in one process, embedded defaults: what `npm start` runs. The list is read
// inside runMain, so that a broken supergraph.yaml is reported as any config problem is.
let system: ListedSystem | undefined;
void runMain('sign-up system', () => (system = listSystem()).config, (config, logger, fatal) => startAll(config, logger, fatal, system));
