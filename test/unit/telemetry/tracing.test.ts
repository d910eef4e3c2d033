import { describe, expect, it } from 'vitest';
import { defaultToTracesOnly, tracingRequested } from '../../../src/telemetry/tracing.js';

describe('OpenTelemetry defaults', () => {
  it('turns metrics and logs export off unless the user names an exporter for them', () => {
    const env: NodeJS.ProcessEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' };
    defaultToTracesOnly(env);
    expect(env).toMatchObject({ OTEL_METRICS_EXPORTER: 'none', OTEL_LOGS_EXPORTER: 'none' });
    expect(tracingRequested(env)).toBe(true);

    const chosen: NodeJS.ProcessEnv = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_METRICS_EXPORTER: 'otlp', OTEL_LOGS_EXPORTER: 'otlp,console' };
    defaultToTracesOnly(chosen);
    expect(chosen).toMatchObject({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_LOGS_EXPORTER: 'otlp,console' });
  });
});
