import { describe, expect, it } from 'vitest';
import { DEFAULT_FAULT, FaultController, parseFaultRequest } from '../../../src/model-server/fault.js';

function manualClock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let time = start;
  return { now: () => time, advance: (ms) => (time += ms) };
}

describe('FaultController', () => {
  it('passes everything with no fault', () => {
    const faults = new FaultController(DEFAULT_FAULT, manualClock().now);
    expect(faults.actionFor()).toEqual({ kind: 'pass' });
  });

  it('maps each steady mode to its action with its parameters', () => {
    const faults = new FaultController(DEFAULT_FAULT, manualClock().now);
    faults.set({ ...DEFAULT_FAULT, mode: 'error', status: 500 });
    expect(faults.actionFor()).toEqual({ kind: 'error', status: 500 });
    faults.set({ ...DEFAULT_FAULT, mode: 'slow', delayMs: 750 });
    expect(faults.actionFor()).toEqual({ kind: 'delay', delayMs: 750 });
    faults.set({ ...DEFAULT_FAULT, mode: 'stall', delayMs: 900 });
    expect(faults.actionFor()).toEqual({ kind: 'stall', delayMs: 900 });
    faults.set({ ...DEFAULT_FAULT, mode: 'hang' });
    expect(faults.actionFor()).toEqual({ kind: 'hang' });
    faults.set({ ...DEFAULT_FAULT, mode: 'crash' });
    expect(faults.actionFor()).toEqual({ kind: 'crash' });
    faults.set(DEFAULT_FAULT);
    expect(faults.actionFor()).toEqual({ kind: 'pass' });
  });

  it('flap alternates healthy and error phases of period_ms, starting healthy when set', () => {
    const clock = manualClock();
    const faults = new FaultController(DEFAULT_FAULT, clock.now);
    clock.advance(12_345);
    faults.set({ ...DEFAULT_FAULT, mode: 'flap', status: 502, periodMs: 1000 });
    const phases: string[] = [];
    for (let i = 0; i < 8; i++) {
      phases.push(faults.actionFor().kind);
      clock.advance(500);
    }
    expect(phases).toEqual(['pass', 'pass', 'error', 'error', 'pass', 'pass', 'error', 'error']);
    clock.advance(-4000 + 1000);
    expect(faults.actionFor()).toEqual({ kind: 'error', status: 502 });
    expect(faults.describe()).toMatchObject({ mode: 'flap', phase: 'error', status: 502, period_ms: 1000 });
  });

  it('describes the current fault for the admin API', () => {
    const clock = manualClock(Date.UTC(2030, 0, 1));
    const faults = new FaultController({ ...DEFAULT_FAULT, mode: 'slow', delayMs: 300 }, clock.now);
    expect(faults.describe()).toEqual({ mode: 'slow', status: 503, delay_ms: 300, period_ms: 10_000, since: '2030-01-01T00:00:00.000Z' });
  });
});

describe('parseFaultRequest', () => {
  it('fills omitted parameters with the built-in defaults', () => {
    expect(parseFaultRequest({ mode: 'error' })).toEqual({ ok: true, spec: { ...DEFAULT_FAULT, mode: 'error' } });
    expect(parseFaultRequest({ mode: 'flap', status: 500, delay_ms: 0, period_ms: 200 })).toEqual({ ok: true, spec: { mode: 'flap', status: 500, delayMs: 0, periodMs: 200 } });
  });

  it('rejects unknown modes and out-of-range parameters', () => {
    for (const body of [undefined, [], { mode: 'melt' }, { mode: 'error', status: 200 }, { mode: 'slow', delay_ms: -1 }, { mode: 'flap', period_ms: 0 }, { mode: 'error', status: '503' }]) {
      expect(parseFaultRequest(body).ok, JSON.stringify(body)).toBe(false);
    }
  });
});
