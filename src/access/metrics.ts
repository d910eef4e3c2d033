import client from 'prom-client';
import type { SluiceMetrics } from '../telemetry/index.js';

export const AUTH_FAILURE_REASONS = ['missing_key', 'invalid_key'] as const;
export const ADMIN_DENIAL_REASONS = ['network', 'token'] as const;
export type AuthFailureReason = (typeof AUTH_FAILURE_REASONS)[number];
export type AdminDenialReason = (typeof ADMIN_DENIAL_REASONS)[number];

/** Access-control counters, registered with Sluice's own registries so /metrics shows them. */
export class AccessMetrics {
  readonly #rateLimited;
  readonly #storeErrors;
  readonly #authFailures;
  readonly #adminDenied;

  constructor(metrics: SluiceMetrics) {
    const registers = [metrics.openMetricsRegistry, metrics.textRegistry];
    this.#rateLimited = new client.Counter({ name: 'sluice_rate_limited_total', help: 'Requests refused with 429 by Sluice\'s own rate limits, by client.', labelNames: ['client'], registers });
    this.#storeErrors = new client.Counter({ name: 'sluice_rate_limit_store_errors_total', help: 'Requests let through without a verdict because the rate-limit store failed (fail open).', registers });
    this.#authFailures = new client.Counter({ name: 'sluice_auth_failures_total', help: 'Proxy requests refused with 401 for a missing or unknown API key.', labelNames: ['reason'], registers });
    this.#adminDenied = new client.Counter({ name: 'sluice_admin_denied_total', help: 'Requests to /metrics and /internal/* refused (403 network, 401 token).', labelNames: ['reason'], registers });
    for (const reason of AUTH_FAILURE_REASONS) this.#authFailures.inc({ reason }, 0);
    for (const reason of ADMIN_DENIAL_REASONS) this.#adminDenied.inc({ reason }, 0);
    this.#storeErrors.inc(0);
  }

  /** Series at zero for every client that can be limited (configured key names and `anonymous`). */
  initClients(clients: readonly string[]): void {
    for (const c of clients) this.#rateLimited.inc({ client: c }, 0);
  }

  rateLimited(clientName: string): void {
    this.#rateLimited.inc({ client: clientName });
  }

  storeError(): void {
    this.#storeErrors.inc();
  }

  authFailure(reason: AuthFailureReason): void {
    this.#authFailures.inc({ reason });
  }

  adminDenied(reason: AdminDenialReason): void {
    this.#adminDenied.inc({ reason });
  }
}
