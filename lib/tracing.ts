import {
  context,
  propagation,
  trace,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  TraceFlags,
  type Attributes,
  type Context,
  type Link,
  type Span,
  type SpanOptions,
  type Tracer,
} from '@opentelemetry/api';
import type { Sampler, SamplingResult } from '@opentelemetry/sdk-trace-base';
import type { CommonConfig } from './config';
import type { Logger } from './logger';

// OpenTelemetry traces over OTLP/HTTP, off unless an endpoint is configured; its
// SDK is loaded only then. Spans carry no personal data: no addresses, names,
// documents or variables, and errors are recorded by their name, never their message.

export interface Tracing {
  readonly tracer: Tracer;
  /** Exports what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

export { ROOT_CONTEXT, SpanKind };
export type { Attributes, Tracer };

/** Where the spans go; undefined: tracing is off. */
export const tracesEndpoint = (config: CommonConfig): string | undefined => {
  if (config.OTEL_SDK_DISABLED === 'true') return undefined;
  if (config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) return config.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT;
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT) return `${config.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, '')}/v1/traces`;
  return undefined;
};

/** What a service has while tracing is off: spans that record nothing. */
export const tracingOff: Tracing = { tracer: trace.getTracer('off'), shutdown: async () => undefined };

let globalsInstalled = false;

/**
 * A span with no parent that links to a sampled span is sampled too: the
 * welcome email's trace is kept whenever the sign-up it came from was.
 */
const keepLinkedTo = (inner: Sampler): Sampler => ({
  shouldSample(parent, traceId, name, kind, attributes, links): SamplingResult {
    if (!trace.getSpanContext(parent) && links.some((link) => (link.context.traceFlags & TraceFlags.SAMPLED) !== 0)) {
      return { decision: 2 /* SamplingDecision.RECORD_AND_SAMPLED */ };
    }
    return inner.shouldSample(parent, traceId, name, kind, attributes, links);
  },
  toString: () => `KeepLinkedTo{${inner.toString()}}`,
});

/**
 * Starts `service`'s tracer provider. `global`: also the provider of code that
 * asks the OpenTelemetry API for one (@apollo/gateway's spans). Several
 * services in one process (`npm start`) share the context manager and the
 * W3C propagator, and each has its own provider, named after it.
 */
export const startTracing = async (config: CommonConfig, service: string, logger: Logger, { global = false } = {}): Promise<Tracing> => {
  const url = tracesEndpoint(config);
  if (!url) return tracingOff;
  const [base, { OTLPTraceExporter }, { resourceFromAttributes }, { AsyncLocalStorageContextManager }, { W3CTraceContextPropagator, setGlobalErrorHandler }] = await Promise.all([
    import('@opentelemetry/sdk-trace-base'),
    import('@opentelemetry/exporter-trace-otlp-http'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/context-async-hooks'),
    import('@opentelemetry/core'),
  ]);
  if (!globalsInstalled) {
    globalsInstalled = true;
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    // The SDK reports failed exports here (a collector that is down): a warning a minute, not one per batch.
    let warnedAt = -Infinity;
    setGlobalErrorHandler((error) => {
      if (performance.now() - warnedAt < 60_000) return;
      warnedAt = performance.now();
      logger.warn({ err: error }, 'tracing: spans could not be exported (more failures in the next minute are not logged)');
    });
  }
  const ratio = config.OTEL_TRACES_SAMPLER_ARG ?? 1;
  const roots: Record<CommonConfig['OTEL_TRACES_SAMPLER'], () => Sampler> = {
    always_on: () => new base.AlwaysOnSampler(),
    always_off: () => new base.AlwaysOffSampler(),
    traceidratio: () => new base.TraceIdRatioBasedSampler(ratio),
    parentbased_always_on: () => new base.ParentBasedSampler({ root: new base.AlwaysOnSampler() }),
    parentbased_always_off: () => new base.ParentBasedSampler({ root: new base.AlwaysOffSampler() }),
    parentbased_traceidratio: () => new base.ParentBasedSampler({ root: new base.TraceIdRatioBasedSampler(ratio) }),
  };
  const provider = new base.BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.OTEL_SERVICE_NAME ?? service }),
    sampler: keepLinkedTo(roots[config.OTEL_TRACES_SAMPLER]()),
    spanProcessors: [new base.BatchSpanProcessor(new OTLPTraceExporter({ url }))],
  });
  if (global) trace.setGlobalTracerProvider(provider);
  logger.info({ service, url, sampler: config.OTEL_TRACES_SAMPLER, ratio }, 'tracing on');
  return {
    tracer: provider.getTracer(service),
    shutdown: async () => {
      await provider.shutdown().catch((error: unknown) => logger.warn({ err: error, service }, 'spans could not be exported at shutdown'));
    },
  };
};

/** The trace context a caller sent in `traceparent`/`tracestate`; the root context when none. */
export const callerContext = (headers: Readonly<Record<string, string | string[] | undefined>>): Context =>
  headers.traceparent === undefined ? ROOT_CONTEXT : propagation.extract(ROOT_CONTEXT, headers);

/** Adds the active trace context to outgoing headers (a no-op while tracing is off). */
export const injectTraceContext = (headers: Record<string, string>): void => propagation.inject(context.active(), headers);

/** The active span's W3C `traceparent` when it is sampled: what a log record carries to its readers. */
export const sampledTraceparent = (): string | undefined => {
  const span = trace.getActiveSpan()?.spanContext();
  if (!span || (span.traceFlags & TraceFlags.SAMPLED) === 0) return undefined;
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
};

/** A link to the span a record's `traceparent` names; none for a missing or malformed one. */
export const linksTo = (traceparents: Iterable<string | undefined>): Link[] => {
  const links: Link[] = [];
  for (const traceparent of traceparents) {
    if (!traceparent) continue;
    const linked = trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent }));
    if (linked && trace.isSpanContextValid(linked)) links.push({ context: linked });
  }
  return links;
};

/** Marks the span failed by the error's name and code only: messages can carry addresses and input. */
export const recordFailure = (span: Span, error: unknown): void => {
  const { name, code } = (error ?? {}) as { name?: string; code?: unknown };
  const attributes: Attributes = { 'error.type': typeof name === 'string' ? name : 'Error' };
  if (typeof code === 'string' || typeof code === 'number') attributes['error.code'] = String(code);
  span.setAttributes(attributes);
  span.setStatus({ code: SpanStatusCode.ERROR });
};

/**
 * Runs `work` in a new active span named `name`, ended when it settles;
 * a failure marks the span (see `recordFailure`) and is thrown on.
 */
export const inSpan = <T>(tracer: Tracer, name: string, options: SpanOptions, work: (span: Span) => Promise<T>, parent?: Context): Promise<T> =>
  tracer.startActiveSpan(name, options, parent ?? context.active(), async (span) => {
    try {
      return await work(span);
    } catch (error) {
      recordFailure(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
