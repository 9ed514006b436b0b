import { Counter } from 'prom-client';
import { createServiceMetrics, type ServiceMetrics } from '../../lib/metrics';

export interface GatewayMetrics extends ServiceMetrics {
  /** Requests refused by the sign-up rate limit, by which limit. */
  readonly signUpsRateLimited: Counter<'scope'>;
  /** Sign-ups counted in this gateway's memory because the shared counters' database did not answer, by why. */
  readonly signUpsCountedInMemory: Counter<'reason'>;
  /** Subgraph calls that failed, by subgraph and reason. */
  readonly subgraphFailures: Counter<'subgraph' | 'reason'>;
  readonly supergraphReloads: Counter<'result'>;
}

export const createGatewayMetrics = (): GatewayMetrics => {
  const base = createServiceMetrics('gateway');
  const registers = [base.registry];
  return {
    ...base,
    signUpsRateLimited: new Counter({
      name: 'signups_rate_limited_total',
      help: 'Requests refused because their sign-ups exceed the per-address (ip) or global limit',
      labelNames: ['scope'],
      registers,
    }),
    signUpsCountedInMemory: new Counter({
      name: 'signup_counts_in_memory_total',
      help: "Sign-up counts made in this gateway's memory instead of the shared database: timeout, error, or open (the breaker did not try it)",
      labelNames: ['reason'],
      registers,
    }),
    subgraphFailures: new Counter({
      name: 'subgraph_failures_total',
      help: 'Subgraph calls that failed: timeout, unreachable, http_<status>, invalid_response',
      labelNames: ['subgraph', 'reason'],
      registers,
    }),
    supergraphReloads: new Counter({
      name: 'supergraph_reloads_total',
      help: 'Reloads of the supergraph file: updated, or failed (the previous schema stays)',
      labelNames: ['result'],
      registers,
    }),
  };
};
