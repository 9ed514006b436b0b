import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** Operation names are chosen by clients: past this many distinct ones, the rest share one label. */
const MAX_LABEL_VALUES = 100;
const OTHER = '(other)';

/** Bounds a label's values, so that clients cannot grow the metrics without limit. */
const cappedLabel = (max = MAX_LABEL_VALUES) => {
  const seen = new Set<string>();
  return (value: string): string => {
    if (seen.has(value)) return value;
    if (seen.size >= max || value.length > 64) return OTHER;
    seen.add(value);
    return value;
  };
};

export interface ServiceMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'operation'>;
  readonly duration: Histogram<'operation'>;
  readonly errors: Counter<'code'>;
  /** Requests refused before GraphQL: malformed JSON, too large, no secret. */
  readonly httpRefusals: Counter<'status'>;
}

let processRegistry: Registry | undefined;

/** CPU, memory, event loop: one set per process, however many services it runs. */
const processMetrics = (): Registry => {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
};

/** The Prometheus text of a service: its own metrics plus the process's. */
export const renderMetrics = async (metrics: ServiceMetrics): Promise<string> =>
  `${await processMetrics().metrics()}\n${await metrics.registry.metrics()}`;

export const METRICS_CONTENT_TYPE = Registry.PROMETHEUS_CONTENT_TYPE;

/** A registry labelled with the service name, holding what every GraphQL service reports. */
export const createServiceMetrics = (service: string): ServiceMetrics => {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({ name: 'graphql_requests_total', help: 'GraphQL requests, by operation name', labelNames: ['operation'], registers }),
    duration: new Histogram({
      name: 'graphql_request_duration_seconds',
      help: 'GraphQL request latency, by operation name',
      labelNames: ['operation'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    errors: new Counter({ name: 'graphql_errors_total', help: 'Errors in GraphQL responses, by extensions.code', labelNames: ['code'], registers }),
    httpRefusals: new Counter({
      name: 'http_refused_total',
      help: 'Requests refused before reaching GraphQL, by HTTP status',
      labelNames: ['status'],
      registers,
    }),
  };
};

/** Counts requests, latency and errors of an Apollo server. */
export const graphqlMetricsPlugin = <C extends BaseContext>(metrics: ServiceMetrics): ApolloServerPlugin<C> => {
  const operationLabel = cappedLabel();
  const codeLabel = cappedLabel();
  return {
    async requestDidStart() {
      const end = metrics.duration.startTimer();
      return {
        async didEncounterErrors({ errors }) {
          for (const error of errors) {
            const code = error.extensions?.code;
            metrics.errors.inc({ code: codeLabel(typeof code === 'string' ? code : 'INTERNAL_SERVER_ERROR') });
          }
        },
        async willSendResponse({ operationName, operation }) {
          const operation_ = operation ? operationLabel(operationName ?? '(anonymous)') : '(invalid)';
          metrics.requests.inc({ operation: operation_ });
          end({ operation: operation_ });
        },
      };
    },
  };
};

/** How long a log append takes to become durable (group commit included). */
export const createAppendHistogram = (metrics: ServiceMetrics): Histogram =>
  new Histogram({
    name: 'log_append_duration_seconds',
    help: 'Time for a record to be appended to the service log and made durable',
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
    registers: [metrics.registry],
  });
