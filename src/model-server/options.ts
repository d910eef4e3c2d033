import type { EngineConfig } from './engine/index.js';
import type { FaultSpec } from './fault.js';

/** The simulated inference engine (ENGINE=sim) instead of a fixed pace per token. */
export interface SimEngineOptions {
  readonly config: EngineConfig;
  /** Models in memory at once; the default keeps every served model loaded. */
  readonly maxLoadedModels?: number;
}

/** Settings of one sample model server. Everything is optional; see MODEL_SERVER_DEFAULTS. */
export interface ModelServerOptions {
  readonly port?: number;
  readonly host?: string;
  /** Identifies this replica in the X-Server-Id header and in response bodies. */
  readonly serverId?: string;
  /** Model names served; all share the same small models underneath. */
  readonly models?: readonly string[];
  /** How long "loading" lasts after start; /health and the API answer 503 until then. */
  readonly loadTimeMs?: number;
  /** Pause before each generated token (streamed or not), unless `engine` is set. */
  readonly tokenDelayMs?: number;
  /** Extra wait before answering the model lists (/v1/models, /api/tags), as a busy server might. */
  readonly modelListDelayMs?: number;
  /** How long after start the model lists answer 503, as a server still loading its models might. */
  readonly modelListFailForMs?: number;
  /** Simulates an inference engine: tokens come as its batched steps complete. */
  readonly engine?: SimEngineOptions;
  /** Fault active from start; unspecified parameters take DEFAULT_FAULT's. */
  readonly fault?: Partial<FaultSpec>;
  /** Milliseconds clock, injectable for tests. */
  readonly now?: () => number;
  /** What the `crash` fault does; the default exits the process with status 1. */
  readonly onCrash?: () => void;
  /** Receives structured log entries (fault changes); silent by default. */
  readonly log?: (entry: Record<string, unknown>) => void;
}

export const MODEL_SERVER_DEFAULTS = {
  port: 8001,
  host: '127.0.0.1',
  serverId: 'server-1',
  models: ['llama3.2:1b', 'qwen2.5:0.5b'],
  loadTimeMs: 2000,
  tokenDelayMs: 20,
  modelListDelayMs: 0,
  modelListFailForMs: 0,
} as const;

/** Output length when a request does not set one, and the most a request may ask for. */
export const DEFAULT_MAX_TOKENS = 16;
export const MAX_TOKENS_CAP = 512;
