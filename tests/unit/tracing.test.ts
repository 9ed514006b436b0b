import { execFile, execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { commonConfig, loadConfig } from '../../lib/config';
import { tracesEndpoint } from '../../lib/tracing';
import { startOtlpReceiver } from '../helpers/otlp-receiver';
import { ROOT } from '../helpers/paths';

describe('tracing configuration', () => {
  it('is off unless an OTLP endpoint is set, and OTEL_SDK_DISABLED turns it off again', () => {
    expect(tracesEndpoint(loadConfig(commonConfig, {}))).toBeUndefined();
    expect(tracesEndpoint(loadConfig(commonConfig, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }))).toBe('http://collector:4318/v1/traces');
    const both = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://traces:9999/in' };
    expect(tracesEndpoint(loadConfig(commonConfig, both))).toBe('http://traces:9999/in');
    expect(tracesEndpoint(loadConfig(commonConfig, { ...both, OTEL_SDK_DISABLED: 'true' }))).toBeUndefined();
  });

  it.each([
    [{ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    [{ OTEL_TRACES_SAMPLER: 'sometimes' }, 'OTEL_TRACES_SAMPLER'],
    [{ OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '1.5' }, 'OTEL_TRACES_SAMPLER_ARG'],
    [{ OTEL_TRACES_SAMPLER_ARG: '0.1' }, 'OTEL_TRACES_SAMPLER_ARG: only the traceidratio samplers take a ratio'],
  ])('refuses %j, naming the key', (env, named) => {
    expect(() => loadConfig(commonConfig, env)).toThrow(named);
  });

  it('loads the OpenTelemetry SDK only when tracing is on', () => {
    const loaded = (env: Record<string, string>) =>
      execFileSync(
        process.execPath,
        [
          '-e',
          `const { loadConfig, commonConfig } = require('./dist/lib/config');
           require('./dist/lib/tracing').startTracing(loadConfig(commonConfig, ${JSON.stringify(env)}), 'probe', require('pino')({ level: 'silent' }))
             .then(() => console.log(Object.keys(require.cache).some((file) => file.includes(${JSON.stringify(join('@opentelemetry', 'sdk-trace-base'))}))));`,
        ],
        { cwd: ROOT, encoding: 'utf8' },
      ).trim();
    expect(loaded({})).toBe('false');
    expect(loaded({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9/' })).toBe('true');
  });
});

describe('sampling', () => {
  it('keeps a trace whose parent was sampled, and a new trace that links to a sampled span, whatever the ratio', async () => {
    const receiver = await startOtlpReceiver();
    const env = { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' };
    const sampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const unsampled = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00';
    // In a process of its own: the OTLP exporter imports node:http dynamically, which jest's module sandbox refuses.
    await promisify(execFile)(
      process.execPath,
      [
        '-e',
        `const { ROOT_CONTEXT, propagation } = require('@opentelemetry/api');
         const { loadConfig, commonConfig } = require('./dist/lib/config');
         const { startTracing, linksTo } = require('./dist/lib/tracing');
         startTracing(loadConfig(commonConfig, ${JSON.stringify(env)}), 'sampling', require('pino')({ level: 'silent' })).then(({ tracer, shutdown }) => {
           const parent = (traceparent) => propagation.extract(ROOT_CONTEXT, { traceparent });
           tracer.startSpan('root', {}, ROOT_CONTEXT).end();
           tracer.startSpan('child of a sampled parent', {}, parent('${sampled}')).end();
           tracer.startSpan('child of an unsampled parent', {}, parent('${unsampled}')).end();
           tracer.startSpan('linked to a sampled span', { links: linksTo(['${sampled}']) }, ROOT_CONTEXT).end();
           tracer.startSpan('linked to an unsampled span', { links: linksTo(['${unsampled}', 'not a traceparent']) }, ROOT_CONTEXT).end();
           return shutdown();
         });`,
      ],
      { cwd: ROOT },
    );
    await receiver.close();
    expect(receiver.spans.map((span) => span.name).sort()).toEqual(['child of a sampled parent', 'linked to a sampled span']);
    expect(receiver.spans.find((span) => span.name === 'linked to a sampled span')!.links).toEqual([
      { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331' },
    ]);
  });
});
