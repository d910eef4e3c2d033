import type { EngineClock } from './clock.js';
import type { EngineConfig } from './config.js';
import { KvCache } from './kv-cache.js';
import { blockHashes, simTokenCount } from './tokenizer.js';

/** What the engine reports as it works, for its metrics. Times in seconds. */
export interface EngineObserver {
  /** A request was scheduled from the queue: `queried` prompt tokens looked up, `hits` found cached. */
  prefixLookup(queried: number, hits: number): void;
  firstToken(ttftSeconds: number): void;
  finished(e2eSeconds: number, promptTokens: number, outputTokens: number): void;
  preempted(): void;
}

export interface SubmitRequest {
  /** The whole prompt as the engine sees it (the conversation so far, in order). */
  readonly prompt: string;
  readonly outputTokens: number;
  /** Called once per generated token, at the end of the step that produced it. */
  readonly onToken: (index: number) => void;
  readonly onFinish: () => void;
}

export interface EngineStats {
  readonly running: number;
  readonly waiting: number;
  readonly kvUsage: number;
  readonly usedBlocks: number;
  readonly cachedBlocks: number;
  readonly preemptions: number;
}

interface Sequence {
  readonly id: number;
  readonly promptTokens: number;
  readonly hashes: readonly string[];
  readonly outputTokens: number;
  readonly arrivedAt: number;
  readonly request: SubmitRequest;
  generated: number;
  /** Tokens whose KV is computed (cache hits included). */
  computed: number;
  /** Tokens to compute before the next token can be sampled: the prompt, plus output redone after a preemption. */
  target: number;
  /** Cached blocks this sequence references, in prompt order. */
  cached: string[];
  /** Blocks of `hashes` handled so far (published, or found already cached). */
  published: number;
  anonymous: number;
  firstTokenSeen: boolean;
}

const blocksFor = (tokens: number, blockSize: number) => Math.ceil(tokens / blockSize);

/**
 * One model's continuous-batching engine, after vLLM's scheduler: up to `maxNumSeqs` running
 * sequences, a FIFO queue in front of them (the head waits until it fits; nothing overtakes it),
 * a KV cache with prefix caching, chunked prefill within a per-step token budget, and preemption of
 * the newest running sequence when a decode needs a block and none is free (its blocks are freed and
 * it is recomputed later from the front of the queue). Each step's duration comes from the work in
 * it: uncached prefill tokens × `prefillMsPerToken`, plus `decodeMsPerStep` + `decodeMsPerSeq` per
 * decoding sequence. Time comes from an injected clock; there is no randomness.
 */
export class Engine {
  private readonly kv: KvCache;
  private readonly waiting: Sequence[] = [];
  private readonly running: Sequence[] = [];
  private nextId = 1;
  private preemptions = 0;
  private stepTimer: (() => void) | undefined;

  constructor(
    readonly config: EngineConfig,
    private readonly clock: EngineClock,
    private readonly observer?: EngineObserver,
  ) {
    this.kv = new KvCache(config.kvBlocks);
  }

  /** Why a request can never run here (it needs more KV blocks than exist), or undefined. */
  refusal(prompt: string, outputTokens: number): string | undefined {
    const tokens = simTokenCount(prompt) + outputTokens;
    const blocks = blocksFor(tokens, this.config.blockSize);
    return blocks > this.config.kvBlocks ? `prompt and output need ${tokens} tokens, more than the KV cache holds (${this.config.kvBlocks * this.config.blockSize})` : undefined;
  }

  /** Queues a request; returns a function that cancels it (its blocks are released at once). */
  submit(request: SubmitRequest): () => void {
    const reason = this.refusal(request.prompt, request.outputTokens);
    if (reason) throw new RangeError(reason);
    const promptTokens = Math.max(1, simTokenCount(request.prompt));
    const sequence: Sequence = {
      id: this.nextId++,
      promptTokens,
      hashes: blockHashes(request.prompt, this.config.blockSize),
      outputTokens: request.outputTokens,
      arrivedAt: this.clock.now(),
      request,
      generated: 0,
      computed: 0,
      target: promptTokens,
      cached: [],
      published: 0,
      anonymous: 0,
      firstTokenSeen: false,
    };
    this.waiting.push(sequence);
    this.wake();
    return () => this.cancel(sequence);
  }

  stats(): EngineStats {
    return {
      running: this.running.length,
      waiting: this.waiting.length,
      kvUsage: this.kv.usage(),
      usedBlocks: this.kv.usedBlocks,
      cachedBlocks: this.kv.cachedBlocks,
      preemptions: this.preemptions,
    };
  }

  /** Forgets the prefix cache's unreferenced blocks (the model was unloaded). */
  dropCache(): void {
    this.kv.dropUnreferenced();
  }

  /** Stops stepping (server shutdown); queued and running requests get no further tokens. */
  stop(): void {
    this.stepTimer?.();
    this.stepTimer = undefined;
  }

  private cancel(sequence: Sequence): void {
    const queued = this.waiting.indexOf(sequence);
    if (queued >= 0) this.waiting.splice(queued, 1);
    const active = this.running.indexOf(sequence);
    if (active >= 0) {
      this.running.splice(active, 1);
      this.freeBlocks(sequence);
    }
  }

  private wake(): void {
    this.stepTimer ??= this.clock.schedule(() => this.step(), 0);
  }

  private freeBlocks(sequence: Sequence): void {
    this.kv.release(sequence.cached, sequence.anonymous);
    sequence.cached = [];
    sequence.anonymous = 0;
    sequence.published = 0;
  }

  private heldBlocks(sequence: Sequence): number {
    return sequence.cached.length + sequence.anonymous;
  }

  private preempt(victim: Sequence): void {
    this.running.splice(this.running.indexOf(victim), 1);
    this.freeBlocks(victim);
    victim.computed = 0;
    victim.target = victim.promptTokens + victim.generated;
    this.waiting.unshift(victim);
    this.preemptions++;
    this.observer?.preempted();
  }

  /** Gives every decoding sequence room for its next token, preempting the newest while blocks lack. */
  private reserveDecodeBlocks(): void {
    for (let i = 0; i < this.running.length; i++) {
      const sequence = this.running[i]!;
      if (sequence.computed < sequence.target) continue;
      const needed = blocksFor(sequence.promptTokens + sequence.generated + 1, this.config.blockSize) - this.heldBlocks(sequence);
      if (needed <= 0) continue;
      while (!this.kv.grow(needed)) {
        const victim = this.running[this.running.length - 1]!;
        this.preempt(victim);
        if (victim === sequence) break;
      }
      if (this.running[i] === sequence) sequence.anonymous += needed;
      else i--;
    }
  }

  /** Moves queued sequences into the batch, in order, while slots and blocks allow. */
  private admit(): void {
    const { blockSize, maxNumSeqs } = this.config;
    while (this.waiting.length > 0 && this.running.length < maxNumSeqs) {
      const sequence = this.waiting[0]!;
      // At least the last token is always computed, so that the step can sample from it.
      const usable = Math.min(sequence.hashes.length, Math.floor((sequence.target - 1) / blockSize));
      const hits = this.kv.matchPrefix(sequence.hashes.slice(0, usable));
      const reused = sequence.hashes.slice(0, hits);
      const fresh = blocksFor(sequence.target, blockSize) - hits;
      if (!this.kv.acquire(reused, fresh)) break;
      this.waiting.shift();
      sequence.cached = [...reused];
      sequence.published = hits;
      sequence.anonymous = fresh;
      sequence.computed = hits * blockSize;
      this.running.push(sequence);
      this.observer?.prefixLookup(sequence.target, sequence.computed);
    }
  }

  private step(): void {
    this.stepTimer = undefined;
    const startedAt = this.clock.now();
    this.reserveDecodeBlocks();
    this.admit();
    const decoding = this.running.filter((s) => s.computed >= s.target);
    let budget = this.config.maxBatchedTokens - decoding.length;
    const chunks = new Map<Sequence, number>();
    for (const sequence of this.running) {
      if (budget <= 0) break;
      if (sequence.computed >= sequence.target) continue;
      const chunk = Math.min(sequence.target - sequence.computed, budget);
      chunks.set(sequence, chunk);
      budget -= chunk;
    }
    if (decoding.length === 0 && chunks.size === 0) return;
    const prefillTokens = [...chunks.values()].reduce((sum, n) => sum + n, 0);
    const decodeMs = decoding.length > 0 ? this.config.decodeMsPerStep + this.config.decodeMsPerSeq * decoding.length : 0;
    const durationMs = prefillTokens * this.config.prefillMsPerToken + decodeMs;
    this.stepTimer = this.clock.schedule(() => this.complete(decoding, chunks, startedAt + durationMs), Math.max(0, startedAt + durationMs - this.clock.now()));
  }

  /** Applies a finished step: prefill progress, published blocks, one token per sequence that sampled. */
  private complete(decoding: readonly Sequence[], chunks: ReadonlyMap<Sequence, number>, endedAt: number): void {
    this.stepTimer = undefined;
    const sampled: Sequence[] = [];
    for (const [sequence, chunk] of chunks) {
      if (!this.running.includes(sequence)) continue;
      sequence.computed += chunk;
      this.publishComputed(sequence);
      if (sequence.computed >= sequence.target) sampled.push(sequence);
    }
    for (const sequence of decoding) if (this.running.includes(sequence)) sampled.push(sequence);
    for (const sequence of sampled) this.emit(sequence, endedAt);
    this.wake();
  }

  private publishComputed(sequence: Sequence): void {
    const full = Math.min(sequence.hashes.length, Math.floor(Math.min(sequence.computed, sequence.promptTokens) / this.config.blockSize));
    for (; sequence.published < full; sequence.published++) {
      const hash = sequence.hashes[sequence.published]!;
      if (this.kv.publish(hash)) {
        sequence.cached.push(hash);
        sequence.anonymous--;
      }
    }
  }

  private emit(sequence: Sequence, now: number): void {
    const index = sequence.generated++;
    sequence.computed = sequence.promptTokens + sequence.generated - 1;
    sequence.target = sequence.computed;
    if (!sequence.firstTokenSeen) {
      sequence.firstTokenSeen = true;
      this.observer?.firstToken((now - sequence.arrivedAt) / 1000);
    }
    sequence.request.onToken(index);
    if (sequence.generated < sequence.outputTokens) return;
    this.running.splice(this.running.indexOf(sequence), 1);
    this.freeBlocks(sequence);
    this.observer?.finished((now - sequence.arrivedAt) / 1000, sequence.promptTokens, sequence.generated);
    sequence.request.onFinish();
  }
}
