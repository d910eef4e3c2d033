export { nextCheckDelayMs, withJitter } from './backoff.js';
export { HealthChecker, type HealthCheckerOptions } from './checker.js';
export { httpProber, type ProbeResult, type Prober } from './prober.js';
