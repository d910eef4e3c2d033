export { createLogger, logsAt, type Logger, type LogLevel } from './logging.js';
export { AccessLog, type AccessEntry, type AccessLogOptions } from './access-log.js';
export { CLIENT_CLOSED, FAILURE_REASONS, type FailureReason } from './failure-reasons.js';
export { SluiceMetrics, type Aggregator, type CheckResult, type MetricsBuild, type MetricsSource, type RenderedMetrics, type EndpointLoadSnapshot, type EndpointSnapshot, type GapObserver, type RequestObservation } from './metrics.js';
export { routeAttributes } from './route-decision.js';
export { ModelStats, modelOutcome, quantile, type ModelStatsView } from './model-stats.js';
export { hasIds, recordServerOutcome, sampledTraceId, startServerSpan, traceIds, withRequestContext } from './server-span.js';
export { startTracing, tracingRequested, type Tracing, type TracingOptions } from './tracing.js';
