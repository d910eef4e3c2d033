import { parseDuration } from './duration.js';
import { ENGINE_DEFAULTS, type EngineConfig } from './engine/index.js';
import { DEFAULT_FAULT, FAULT_MODES, isFaultMode, type FaultSpec } from './fault.js';
import { MODEL_SERVER_DEFAULTS, type ModelServerOptions } from './options.js';

export type EnvParseResult = { readonly ok: true; readonly options: ModelServerOptions } | { readonly ok: false; readonly errors: string[] };

/** A header-safe identifier: visible ASCII, no spaces. */
const SERVER_ID_PATTERN = /^[\x21-\x7e]{1,128}$/;

/** How tokens are produced: at a fixed pace (TOKEN_DELAY), or by the simulated engine. */
export const ENGINE_KINDS = ['paced', 'sim'] as const;

/**
 * Reads the server's settings from environment variables (PORT, HOST, SERVER_ID, MODELS, LOAD_TIME,
 * TOKEN_DELAY, MODEL_LIST_DELAY, MODEL_LIST_FAIL_FOR, FAULT, FAULT_STATUS, FAULT_DELAY, FAULT_PERIOD; with ENGINE=sim also MAX_NUM_SEQS,
 * KV_BLOCKS, BLOCK_SIZE, MAX_BATCHED_TOKENS, PREFILL_MS_PER_TOKEN, DECODE_MS_PER_STEP,
 * DECODE_MS_PER_SEQ, MAX_LOADED_MODELS). Every invalid variable is reported by name rather than
 * silently replaced by its default.
 */
export function parseModelServerEnv(env: Readonly<Record<string, string | undefined>>): EnvParseResult {
  const errors: string[] = [];
  const read = (name: string): string | undefined => {
    const value = env[name];
    return value === undefined || value.trim() === '' ? undefined : value.trim();
  };
  const integer = (name: string, fallback: number, min: number, max: number): number => {
    const text = read(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min || value > max) {
      errors.push(`${name} must be an integer from ${min} to ${max}, got "${text}"`);
      return fallback;
    }
    return value;
  };
  const duration = (name: string, fallback: number, min = 0): number => {
    const text = read(name);
    if (text === undefined) return fallback;
    try {
      const ms = parseDuration(text);
      if (ms < min) throw new RangeError(`must be at least ${min}ms`);
      return ms;
    } catch (error) {
      errors.push(`${name}: ${(error as Error).message}`);
      return fallback;
    }
  };

  const decimal = (name: string, fallback: number, max: number): number => {
    const text = read(name);
    if (text === undefined) return fallback;
    const value = Number(text);
    if (!/^\d+(\.\d+)?$/.test(text) || value > max) {
      errors.push(`${name} must be a number from 0 to ${max}, got "${text}"`);
      return fallback;
    }
    return value;
  };

  const port = integer('PORT', MODEL_SERVER_DEFAULTS.port, 0, 65535);
  const host = read('HOST') ?? MODEL_SERVER_DEFAULTS.host;
  const serverId = read('SERVER_ID') ?? MODEL_SERVER_DEFAULTS.serverId;
  if (!SERVER_ID_PATTERN.test(serverId)) errors.push(`SERVER_ID must be 1-128 visible ASCII characters without spaces, got "${serverId}"`);

  const modelsText = read('MODELS');
  const models = modelsText === undefined ? [...MODEL_SERVER_DEFAULTS.models] : modelsText.split(',').map((name) => name.trim());
  if (models.some((name) => name === '' || /\s/.test(name))) errors.push(`MODELS must be a comma-separated list of names without spaces, got "${modelsText}"`);
  else if (new Set(models).size !== models.length) errors.push(`MODELS lists a model twice: "${modelsText}"`);

  const loadTimeMs = duration('LOAD_TIME', MODEL_SERVER_DEFAULTS.loadTimeMs);
  const tokenDelayMs = duration('TOKEN_DELAY', MODEL_SERVER_DEFAULTS.tokenDelayMs);
  const modelListDelayMs = duration('MODEL_LIST_DELAY', MODEL_SERVER_DEFAULTS.modelListDelayMs);
  const modelListFailForMs = duration('MODEL_LIST_FAIL_FOR', MODEL_SERVER_DEFAULTS.modelListFailForMs);

  const modeText = read('FAULT') ?? 'none';
  if (!isFaultMode(modeText)) errors.push(`FAULT must be one of ${FAULT_MODES.join(', ')}, got "${modeText}"`);
  const fault: FaultSpec = {
    mode: isFaultMode(modeText) ? modeText : 'none',
    status: integer('FAULT_STATUS', DEFAULT_FAULT.status, 400, 599),
    delayMs: duration('FAULT_DELAY', DEFAULT_FAULT.delayMs),
    periodMs: duration('FAULT_PERIOD', DEFAULT_FAULT.periodMs, 1),
  };

  const engineKind = read('ENGINE') ?? 'paced';
  if (!(ENGINE_KINDS as readonly string[]).includes(engineKind)) errors.push(`ENGINE must be one of ${ENGINE_KINDS.join(', ')}, got "${engineKind}"`);
  const config: EngineConfig = {
    maxNumSeqs: integer('MAX_NUM_SEQS', ENGINE_DEFAULTS.maxNumSeqs, 1, 4096),
    kvBlocks: integer('KV_BLOCKS', ENGINE_DEFAULTS.kvBlocks, 1, 10_000_000),
    blockSize: integer('BLOCK_SIZE', ENGINE_DEFAULTS.blockSize, 1, 1024),
    maxBatchedTokens: integer('MAX_BATCHED_TOKENS', ENGINE_DEFAULTS.maxBatchedTokens, 1, 1_000_000),
    prefillMsPerToken: decimal('PREFILL_MS_PER_TOKEN', ENGINE_DEFAULTS.prefillMsPerToken, 1000),
    decodeMsPerStep: decimal('DECODE_MS_PER_STEP', ENGINE_DEFAULTS.decodeMsPerStep, 60_000),
    decodeMsPerSeq: decimal('DECODE_MS_PER_SEQ', ENGINE_DEFAULTS.decodeMsPerSeq, 60_000),
  };
  const maxLoadedModels = integer('MAX_LOADED_MODELS', models.length, 1, 1000);
  if (config.maxBatchedTokens <= config.maxNumSeqs) errors.push(`MAX_BATCHED_TOKENS (${config.maxBatchedTokens}) must exceed MAX_NUM_SEQS (${config.maxNumSeqs}) so that prefill can progress`);

  if (errors.length > 0) return { ok: false, errors };
  const engine = engineKind === 'sim' ? { engine: { config, maxLoadedModels } } : {};
  return { ok: true, options: { port, host, serverId, models, loadTimeMs, tokenDelayMs, modelListDelayMs, modelListFailForMs, fault, ...engine } };
}
