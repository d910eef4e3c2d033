/** Where an endpoint's own view of its load comes from: one reader per server family, or none. */
export const LOAD_SOURCES = ['vllm', 'sglang', 'ollama', 'lmstudio', 'none'] as const;
export type LoadSourceName = (typeof LOAD_SOURCES)[number];

/** What one scrape learned; every field is optional because each server family reports a part. */
export interface LoadReport {
  /** Requests the engine is generating for now. */
  readonly running?: number;
  /** Requests queued in the engine, not yet scheduled. */
  readonly waiting?: number;
  /** KV-cache usage, 0 to 1. */
  readonly kvUsage?: number;
  /** KV-cache size in tokens (blocks × block size), when the engine says so. */
  readonly kvCapacityTokens?: number;
  /** Models loaded in memory now (Ollama, LM Studio); absent when the source does not know. */
  readonly residentModels?: ReadonlySet<string>;
}
