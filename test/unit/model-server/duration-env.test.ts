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
        modelListDelayMs: 0,
        modelListFailForMs: 0,
        fault: { mode: 'none', status: 503, delayMs: 2000, periodMs: 10_000 },
      },
    });
  });

  it('reads every variable', () => {
    const result = parseModelServerEnv({
      PORT: '9000', HOST: '0.0.0.0', SERVER_ID: 'replica-b', MODELS: ' a:1b , b ', LOAD_TIME: '300ms', TOKEN_DELAY: '5', MODEL_LIST_DELAY: '1.5s', MODEL_LIST_FAIL_FOR: '3s',
      FAULT: 'flap', FAULT_STATUS: '500', FAULT_DELAY: '1s', FAULT_PERIOD: '250ms',
    });
    expect(result).toEqual({
      ok: true,
      options: {
        port: 9000, host: '0.0.0.0', serverId: 'replica-b', models: ['a:1b', 'b'], loadTimeMs: 300, tokenDelayMs: 5, modelListDelayMs: 1500, modelListFailForMs: 3000,
        fault: { mode: 'flap', status: 500, delayMs: 1000, periodMs: 250 },
      },
    });
  });

  it('reports each invalid variable by name', () => {
    const result = parseModelServerEnv({ PORT: '70000', LOAD_TIME: 'soon', MODEL_LIST_DELAY: '-1s', MODEL_LIST_FAIL_FOR: 'a while', FAULT: 'explode', MODELS: 'a,,b', SERVER_ID: 'has space', FAULT_STATUS: '200', FAULT_PERIOD: '0' });
    expect(result.ok).toBe(false);
    const errors = result.ok ? [] : result.errors;
    for (const name of ['PORT', 'LOAD_TIME', 'MODEL_LIST_DELAY', 'MODEL_LIST_FAIL_FOR', 'FAULT must', 'MODELS', 'SERVER_ID', 'FAULT_STATUS', 'FAULT_PERIOD']) {
      expect(errors.some((e) => e.startsWith(name)), name).toBe(true);
    }
    expect(errors).toHaveLength(9);
  });

  it('rejects a model listed twice', () => {
    const result = parseModelServerEnv({ MODELS: 'a,b,a' });
    expect(result.ok ? [] : result.errors).toEqual([expect.stringContaining('MODELS lists a model twice')]);
  });

  it('reads the simulated engine only with ENGINE=sim, and reports its bad variables by name', () => {
    const sim = parseModelServerEnv({ ENGINE: 'sim', MODELS: 'a,b,c', MAX_NUM_SEQS: '8', KV_BLOCKS: '300', BLOCK_SIZE: '32', MAX_BATCHED_TOKENS: '512', PREFILL_MS_PER_TOKEN: '0.3', DECODE_MS_PER_STEP: '12.5', DECODE_MS_PER_SEQ: '0', MAX_LOADED_MODELS: '2' });
    expect(sim.ok && sim.options.engine).toEqual({
      config: { maxNumSeqs: 8, kvBlocks: 300, blockSize: 32, maxBatchedTokens: 512, prefillMsPerToken: 0.3, decodeMsPerStep: 12.5, decodeMsPerSeq: 0 },
      maxLoadedModels: 2,
    });
    const defaults = parseModelServerEnv({ ENGINE: 'sim' });
    expect(defaults.ok && defaults.options.engine?.maxLoadedModels).toBe(2);
    const paced = parseModelServerEnv({ KV_BLOCKS: '300' });
    expect(paced.ok && paced.options.engine).toBeUndefined();
    const bad = parseModelServerEnv({ ENGINE: 'gpu', PREFILL_MS_PER_TOKEN: '-1', KV_BLOCKS: '0' });
    const errors = bad.ok ? [] : bad.errors;
    for (const name of ['ENGINE', 'PREFILL_MS_PER_TOKEN', 'KV_BLOCKS']) expect(errors.some((e) => e.startsWith(name)), name).toBe(true);
  });
});
