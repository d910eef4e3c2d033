import { describeFetchError, joinUrl, readTextPrefix, type Endpoint } from '../endpoints/index.js';

export interface ProbeResult {
  readonly ok: boolean;
  readonly timedOut: boolean;
  readonly latencyMs: number;
  readonly status?: number;
  readonly error?: string;
}

/** Sends one active health check; the narrow edge the checker talks to (fakes replace it in unit tests). */
export type Prober = (endpoint: Endpoint) => Promise<ProbeResult>;

/** The most of a check's body searched for `health_body_contains`, and the most read of it. */
const MAX_BODY_CHECKED = 64 * 1024;

/** GET `health_path`; passes on the expected status (any 2xx by default) and, if set, a body substring. */
export const httpProber: Prober = async (endpoint) => {
  const cfg = endpoint.config;
  const started = performance.now();
  const elapsed = () => performance.now() - started;
  const headers: Record<string, string> = {};
  if (endpoint.authorization) headers.authorization = endpoint.authorization;
  try {
    const res = await fetch(joinUrl(endpoint.baseUrl, cfg.health_path), { headers, signal: AbortSignal.timeout(cfg.check_timeout), redirect: 'manual' });
    const expected = cfg.health_expected_status;
    const statusOk = expected ? res.status === expected : res.status >= 200 && res.status < 300;
    const needle = cfg.health_body_contains;
    if (!statusOk) {
      await res.body?.cancel();
      return { ok: false, timedOut: false, latencyMs: elapsed(), status: res.status, error: `HTTP ${res.status}` };
    }
    if (needle) {
      // Only what is searched is read: a health path that streams (or answers gigabytes) would
      // otherwise be held in memory whole, up to check_timeout's worth at every check.
      const text = await readTextPrefix(res, MAX_BODY_CHECKED);
      if (!text.includes(needle)) return { ok: false, timedOut: false, latencyMs: elapsed(), status: res.status, error: `body does not contain "${needle}"` };
    } else {
      await res.body?.cancel();
    }
    return { ok: true, timedOut: false, latencyMs: elapsed(), status: res.status };
  } catch (err) {
    const error = describeFetchError(err);
    return { ok: false, timedOut: error === 'timeout', latencyMs: elapsed(), error };
  }
};
