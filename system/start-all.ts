import { runMain } from '../lib/run-main';
import { startAll, systemConfig } from './system';

// The whole system in one process, embedded defaults: what `npm start` runs.
void runMain('sign-up system', systemConfig, startAll);
