import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../../src/model-server/duration.js';
import { parseModelServerEnv } from '../../../src/model-server/env.js';

describe('parseDuration', () => {
  it('reads milliseconds, seconds, minutes and bare numbers', () => {
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('2s')).toBe(2000);
    expect(parseDuration('1.5s')).toBe(1500);
    expect(parseDuration('1m')).toBe(60_000);
    expect(parseDuration('250')).toBe(250);
    expect(parseDuration(' 0 ')).toBe(0);
  });

  it('rejects anything else', () => {
    for (const bad of ['', 'fast', '-1s', '2d', '1e3', 's', '2 seconds']) expect(() => parseDuration(bad), bad).toThrow(RangeError);
  });
});

describe('parseModelServerEnv', () => {
  it('uses the documented defaults', () => {
    const result = parseModelServerEnv({});
    expect(result).toEqual({
      ok: true,
      options: {
        port: 8001,
        host: '127.0.0.1',
        serverId: 'server-1',
        models: ['llama3.2:1b', 'qwen2.5:0.5b'],
        loadTimeMs: 2000,
        tokenDelayMs: 20,
        fault: { mode: 'none', status: 503, delayMs: 2000, periodMs: 10_000 },
      },
    });
  });

  it('reads every variable', () => {
    const result = parseModelServerEnv({
      PORT: '9000', HOST: '0.0.0.0', SERVER_ID: 'replica-b', MODELS: ' a:1b , b ', LOAD_TIME: '300ms', TOKEN_DELAY: '5',
      FAULT: 'flap', FAULT_STATUS: '500', FAULT_DELAY: '1s', FAULT_PERIOD: '250ms',
    });
    expect(result).toEqual({
      ok: true,
      options: {
        port: 9000, host: '0.0.0.0', serverId: 'replica-b', models: ['a:1b', 'b'], loadTimeMs: 300, tokenDelayMs: 5,
        fault: { mode: 'flap', status: 500, delayMs: 1000, periodMs: 250 },
      },
    });
  });

  it('reports each invalid variable by name', () => {
    const result = parseModelServerEnv({ PORT: '70000', LOAD_TIME: 'soon', FAULT: 'explode', MODELS: 'a,,b', SERVER_ID: 'has space', FAULT_STATUS: '200', FAULT_PERIOD: '0' });
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors;
    for (const name of ['PORT', 'LOAD_TIME', 'FAULT must', 'MODELS', 'SERVER_ID', 'FAULT_STATUS', 'FAULT_PERIOD']) {
      expect(errors.some((e) => e.startsWith(name)), name).toBe(true);
    }
    expect(errors).toHaveLength(7);
  });

  it('rejects a model listed twice', () => {
    const result = parseModelServerEnv({ MODELS: 'a,b,a' });
    expect(result.ok ? [] : result.errors).toEqual([expect.stringContaining('MODELS lists a model twice')]);
  });
});
