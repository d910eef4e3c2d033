/**
 * Why an upstream attempt failed: the `reason` label of the failure and retry counters, the
 * error type on spans and the reason in logs. One list; the type is derived from it.
 */
export const FAILURE_REASONS = ['connect_error', 'timeout', 'reset', 'http_5xx', 'http_429'] as const;
export type FailureReason = (typeof FAILURE_REASONS)[number];
