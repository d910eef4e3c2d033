import { register } from 'node:module';
import { SynchronousContextManager } from './sync-context.js';

export interface Tracing {
  shutdown(): Promise<void>;
}

/** True when the standard OTEL_* variables ask for trace export. */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (env.OTEL_SDK_DISABLED === 'true' || env.OTEL_TRACES_EXPORTER === 'none') return false;
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT || env.OTEL_TRACES_EXPORTER);
}

/** Paths that are Sluice's or the sample server's own plumbing, never traced. */
const UNTRACED = /^\/(metrics|health|internal\/|admin\/)/;

/**
 * Signals other than traces are exported only when asked for by name: the SDK would otherwise
 * start OTLP metrics and logs exporters whenever OTEL_EXPORTER_OTLP_ENDPOINT is set, and trace
 * stores such as Jaeger refuse them (metrics are on /metrics, logs on stdout).
 */
export function defaultToTracesOnly(env: NodeJS.ProcessEnv): void {
  env.OTEL_METRICS_EXPORTER ??= 'none';
  env.OTEL_LOGS_EXPORTER ??= 'none';
}

export interface TracingOptions {
  /**
   * `explicit`: the active context lasts only for the synchronous part of `context.with`; the
   * code passes a request's context along itself (Sluice's request path, see
   * SynchronousContextManager). `async` (the SDK's default): AsyncLocalStorage carries it across
   * awaits and callbacks, for code such as an Express app that relies on that.
   */
  readonly context?: 'explicit' | 'async';
  /**
   * Trace incoming HTTP requests with OpenTelemetry's HTTP instrumentation (the default). Off
   * for Sluice, which starts the server span of each proxied request itself (startServerSpan).
   */
  readonly instrumentHttp?: boolean;
}

/**
 * Starts the OpenTelemetry SDK, configured only by the standard OTEL_* environment variables
 * (the SDK reads process.env, so `env` should be it outside of tests). Traces only, unless
 * OTEL_METRICS_EXPORTER or OTEL_LOGS_EXPORTER name an exporter.
 * With no exporter configured nothing is loaded at all, so an untraced Sluice pays nothing.
 * Must run before Express or node:http are imported: it installs the ESM loader hook that
 * lets the auto-instrumentations patch modules loaded with `import`.
 */
export async function startTracing(defaultServiceName: string, env: NodeJS.ProcessEnv = process.env, options: TracingOptions = {}): Promise<Tracing | undefined> {
  if (!tracingRequested(env)) return undefined;
  env.OTEL_SERVICE_NAME ??= defaultServiceName;
  defaultToTracesOnly(env);
  register('@opentelemetry/instrumentation/hook.mjs', import.meta.url);
  const [{ NodeSDK }, { getNodeAutoInstrumentations }] = await Promise.all([
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/auto-instrumentations-node'),
  ]);
  const sdk = new NodeSDK({
    ...(options.context === 'explicit' ? { contextManager: new SynchronousContextManager() } : {}),
    instrumentations: [
      getNodeAutoInstrumentations({
        // Only what a request crosses; file system, DNS and socket spans would drown the trace.
        '@opentelemetry/instrumentation-fs': { enabled: false },
        '@opentelemetry/instrumentation-dns': { enabled: false },
        '@opentelemetry/instrumentation-net': { enabled: false },
        // Per-middleware spans say nothing about a proxied request; the HTTP server span does.
        '@opentelemetry/instrumentation-express': { enabled: false },
        '@opentelemetry/instrumentation-router': { enabled: false },
        // Health checks and model discovery use fetch: not traced by default.
        '@opentelemetry/instrumentation-undici': { enabled: false },
        '@opentelemetry/instrumentation-http': {
          enabled: options.instrumentHttp ?? true,
          ignoreIncomingRequestHook: (req) => UNTRACED.test(req.url ?? ''),
          // Sluice's own attempt span is the client span of a forwarded request, and it injects the
          // trace context itself: a second client span per attempt would only repeat it. Dropping
          // it cut the CPU that tracing adds per request by about a third (npm run bench).
          disableOutgoingRequestInstrumentation: true,
        },
      }),
    ],
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}
