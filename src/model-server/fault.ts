/**
 * Injected faults, for exercising the load balancer. Pure state: the server asks `actionFor()` on
 * every non-admin request and acts on the answer. Time comes from an injected clock.
 */
export const FAULT_MODES = ['none', 'error', 'slow', 'hang', 'crash', 'flap', 'stall'] as const;
export type FaultMode = (typeof FAULT_MODES)[number];

export interface FaultSpec {
  readonly mode: FaultMode;
  /** HTTP status answered by `error` (and by `flap` in its error phase). */
  readonly status: number;
  /** Delay added before every response by `slow`, and before the first generated token by `stall`. */
  readonly delayMs: number;
  /** Length of each healthy or error phase of `flap`. */
  readonly periodMs: number;
}

export const DEFAULT_FAULT: FaultSpec = { mode: 'none', status: 503, delayMs: 2000, periodMs: 10_000 };

export type FaultAction =
  | { readonly kind: 'pass' }
  | { readonly kind: 'error'; readonly status: number }
  | { readonly kind: 'delay'; readonly delayMs: number }
  /** Generation answers at once (streams send their headers) but its first token comes `delayMs` late. */
  | { readonly kind: 'stall'; readonly delayMs: number }
  | { readonly kind: 'hang' }
  | { readonly kind: 'crash' };

const PASS: FaultAction = { kind: 'pass' };

export function isFaultMode(value: unknown): value is FaultMode {
  return typeof value === 'string' && (FAULT_MODES as readonly string[]).includes(value);
}

export class FaultController {
  private spec: FaultSpec;
  private since: number;

  constructor(
    initial: FaultSpec,
    private readonly now: () => number,
  ) {
    this.spec = initial;
    this.since = now();
  }

  get current(): FaultSpec {
    return this.spec;
  }

  /** Replaces the fault; a flap starts with a healthy phase from this moment. */
  set(spec: FaultSpec): void {
    this.spec = spec;
    this.since = this.now();
  }

  /** Whether a flapping server is currently in its error phase. */
  private flapInError(): boolean {
    const elapsed = Math.max(0, this.now() - this.since);
    return Math.floor(elapsed / this.spec.periodMs) % 2 === 1;
  }

  actionFor(): FaultAction {
    switch (this.spec.mode) {
      case 'none':
        return PASS;
      case 'error':
        return { kind: 'error', status: this.spec.status };
      case 'slow':
        return { kind: 'delay', delayMs: this.spec.delayMs };
      case 'stall':
        return { kind: 'stall', delayMs: this.spec.delayMs };
      case 'hang':
        return { kind: 'hang' };
      case 'crash':
        return { kind: 'crash' };
      case 'flap':
        return this.flapInError() ? { kind: 'error', status: this.spec.status } : PASS;
    }
  }

  /** The JSON shape served by GET/POST /admin/fault. */
  describe(): Record<string, unknown> {
    const { mode, status, delayMs, periodMs } = this.spec;
    const description: Record<string, unknown> = { mode, status, delay_ms: delayMs, period_ms: periodMs, since: new Date(this.since).toISOString() };
    if (mode === 'flap') description.phase = this.flapInError() ? 'error' : 'healthy';
    return description;
  }
}

export type FaultRequestResult = { readonly ok: true; readonly spec: FaultSpec } | { readonly ok: false; readonly error: string };

function integerIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Validates the body of POST /admin/fault: `{mode, status?, delay_ms?, period_ms?}`. Omitted
 * parameters take the built-in defaults, so a request means the same thing whatever came before.
 */
export function parseFaultRequest(body: unknown): FaultRequestResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { ok: false, error: 'body must be a JSON object' };
  const fields = body as Record<string, unknown>;
  if (!isFaultMode(fields.mode)) return { ok: false, error: `mode must be one of ${FAULT_MODES.join(', ')}` };
  const { status = DEFAULT_FAULT.status, delay_ms = DEFAULT_FAULT.delayMs, period_ms = DEFAULT_FAULT.periodMs } = fields;
  if (!integerIn(status, 400, 599)) return { ok: false, error: 'status must be an integer from 400 to 599' };
  if (!integerIn(delay_ms, 0, 600_000)) return { ok: false, error: 'delay_ms must be an integer from 0 to 600000' };
  if (!integerIn(period_ms, 1, 3_600_000)) return { ok: false, error: 'period_ms must be an integer from 1 to 3600000' };
  return { ok: true, spec: { mode: fields.mode, status, delayMs: delay_ms, periodMs: period_ms } };
}
