/**
 * The simulated engine's settings and their defaults (the sample server's environment variables
 * MAX_NUM_SEQS, KV_BLOCKS, BLOCK_SIZE, MAX_BATCHED_TOKENS, PREFILL_MS_PER_TOKEN, DECODE_MS_PER_STEP,
 * DECODE_MS_PER_SEQ map onto these fields).
 */
export interface EngineConfig {
  /** Sequences decoded together at most (vLLM `max_num_seqs`); the rest wait in a FIFO queue. */
  readonly maxNumSeqs: number;
  /** KV-cache size in blocks (vLLM `num_gpu_blocks`). */
  readonly kvBlocks: number;
  /** Tokens per KV block (vLLM `block_size`). */
  readonly blockSize: number;
  /** Token budget of one engine step, shared by decodes and prefill chunks (chunked prefill). */
  readonly maxBatchedTokens: number;
  /** Prefill cost per prompt token not found in the prefix cache. */
  readonly prefillMsPerToken: number;
  /** Fixed cost of a decode step. */
  readonly decodeMsPerStep: number;
  /** Added to a decode step per sequence in the batch. */
  readonly decodeMsPerSeq: number;
}

/**
 * Ratios of a small model on one data-centre GPU: prefill runs at a few thousand tokens/s
 * (0.25 ms/token), a decode step takes ~15 ms plus a little per sequence in the batch, blocks of 16
 * tokens as vLLM uses, and a cache of 2048 blocks (32k tokens), scaled down from real GPUs so
 * that a handful of long conversations already fill it.
 */
export const ENGINE_DEFAULTS: EngineConfig = {
  maxNumSeqs: 16,
  kvBlocks: 2048,
  blockSize: 16,
  maxBatchedTokens: 2048,
  prefillMsPerToken: 0.25,
  decodeMsPerStep: 15,
  decodeMsPerSeq: 0.5,
};
