import { describe, expect, it } from 'vitest';
import { Engine, type EngineConfig, type EngineObserver } from '../../../../src/model-server/engine/index.js';
import { ManualClock } from '../../../helpers/manual-clock.js';

const BASE: EngineConfig = { maxNumSeqs: 4, kvBlocks: 1000, blockSize: 16, maxBatchedTokens: 100_000, prefillMsPerToken: 1, decodeMsPerStep: 10, decodeMsPerSeq: 2 };

/** A prompt of exactly `tokens` simulated tokens (four characters each), distinct per `tag`. */
const promptOf = (tag: string, tokens: number) => `${tag}:`.padEnd(tokens * 4, 'x');

interface Recorder extends EngineObserver {
  lookups: Array<[number, number]>;
  ttfts: number[];
  preemptions: number;
}

function recorder(): Recorder {
  const r: Recorder = {
    lookups: [],
    ttfts: [],
    preemptions: 0,
    prefixLookup: (queried, hits) => r.lookups.push([queried, hits]),
    firstToken: (s) => r.ttfts.push(s),
    finished: () => undefined,
    preempted: () => r.preemptions++,
  };
  return r;
}

function setup(config: Partial<EngineConfig> = {}) {
  const clock = new ManualClock();
  const observer = recorder();
  const engine = new Engine({ ...BASE, ...config }, clock, observer);
  const tokenTimes = new Map<string, number[]>();
  const done: string[] = [];
  const submit = (name: string, prompt: string, outputTokens: number) => {
    tokenTimes.set(name, []);
    return engine.submit({ prompt, outputTokens, onToken: () => tokenTimes.get(name)!.push(clock.now()), onFinish: () => done.push(name) });
  };
  return { clock, observer, engine, tokenTimes, done, submit };
}

describe('Engine scheduling', () => {
  it('runs at most maxNumSeqs sequences and queues the rest in arrival order', () => {
    const { clock, engine, done, submit } = setup({ maxNumSeqs: 2 });
    submit('a', promptOf('a', 10), 3);
    submit('b', promptOf('b', 10), 3);
    submit('c', promptOf('c', 10), 3);
    clock.advance(0);
    expect(engine.stats()).toMatchObject({ running: 2, waiting: 1 });
    clock.advance(10_000);
    expect(done).toEqual(['a', 'b', 'c']);
    expect(engine.stats()).toMatchObject({ running: 0, waiting: 0, usedBlocks: 0 });
  });

  it('takes prefill time per uncached prompt token and decode time per step growing with the batch', () => {
    const { clock, tokenTimes, submit } = setup();
    submit('a', promptOf('a', 100), 3);
    clock.advance(10_000);
    // Prefill of 100 tokens at 1 ms yields the first token; each decode step of one sequence costs 10 + 2 ms.
    expect(tokenTimes.get('a')).toEqual([100, 112, 124]);

    const two = setup();
    two.submit('a', promptOf('a', 50), 3);
    two.submit('b', promptOf('b', 50), 3);
    two.clock.advance(10_000);
    // Both prefills share the first step (100 tokens); then each step decodes two sequences: 10 + 2 × 2 ms.
    expect(two.tokenTimes.get('a')).toEqual([100, 114, 128]);
    expect(two.tokenTimes.get('b')).toEqual([100, 114, 128]);
  });

  it('serves a repeated prompt from the prefix cache: fewer prefill tokens, counted in tokens', () => {
    const { clock, observer, tokenTimes, submit } = setup();
    const prompt = promptOf('shared', 320);
    submit('first', prompt, 2);
    clock.advance(10_000);
    submit('second', `${prompt}${'y'.repeat(40)}`, 2);
    const start = clock.now();
    clock.advance(10_000);
    // 320 tokens = 20 full blocks, all cached; only the 10 new tokens are prefilled.
    expect(observer.lookups).toEqual([
      [320, 0],
      [330, 320],
    ]);
    expect(tokenTimes.get('second')![0]! - start).toBe(10);
    expect(tokenTimes.get('first')![0]).toBe(320);
  });

  it('always recomputes the last prompt token, even when every block is cached', () => {
    const { clock, observer, submit } = setup();
    const prompt = promptOf('p', 64);
    submit('first', prompt, 1);
    clock.advance(1000);
    submit('again', prompt, 1);
    clock.advance(1000);
    expect(observer.lookups[1]).toEqual([64, 48]);
  });

  it('accounts KV blocks while running and keeps the prompt cached after the end', () => {
    const { clock, engine, submit } = setup({ kvBlocks: 100 });
    submit('a', promptOf('a', 160), 20);
    clock.advance(160);
    // 160 prompt tokens plus the first token's slot: 11 blocks of 16.
    expect(engine.stats().usedBlocks).toBe(11);
    expect(engine.stats().kvUsage).toBeCloseTo(0.11);
    clock.advance(10_000);
    expect(engine.stats()).toMatchObject({ usedBlocks: 0, kvUsage: 0, cachedBlocks: 10 });
  });

  it('evicts the least recently used prefix when the cache is full', () => {
    const { clock, engine, observer, submit } = setup({ kvBlocks: 15 });
    submit('a', promptOf('a', 160), 1);
    clock.advance(1000);
    submit('b', promptOf('b', 160), 1);
    clock.advance(1000);
    // b needed 10 blocks, 5 of them taken from a's cached prompt: its last 5, so its first 5 still hit.
    submit('a2', promptOf('a', 160), 1);
    clock.advance(1000);
    // a2 in turn reclaimed b's tail.
    submit('b2', promptOf('b', 160), 1);
    clock.advance(1000);
    expect(observer.lookups.map(([, hits]) => hits)).toEqual([0, 0, 80, 80]);
    expect(engine.stats().cachedBlocks).toBe(15);
  });

  it('waits for blocks (head of line) rather than overtaking the queue', () => {
    const { clock, engine, done, submit } = setup({ kvBlocks: 20 });
    submit('big', promptOf('big', 240), 5);
    submit('huge', promptOf('huge', 200), 5);
    submit('small', promptOf('small', 10), 5);
    clock.advance(0);
    expect(engine.stats()).toMatchObject({ running: 1, waiting: 2 });
    clock.advance(100_000);
    expect(done).toEqual(['big', 'huge', 'small']);
  });

  it('preempts the newest sequence when a decode needs a block and none is free, then recomputes it', () => {
    const { clock, engine, observer, tokenTimes, done, submit } = setup({ kvBlocks: 10, blockSize: 4 });
    // Each prompt takes 4 blocks (16 tokens); with 2 running, growth past 10 blocks forces a preemption.
    submit('old', promptOf('old', 16), 12);
    submit('new', promptOf('new', 16), 12);
    clock.advance(100_000);
    expect(observer.preemptions).toBeGreaterThanOrEqual(1);
    expect(done).toEqual(['old', 'new']);
    expect(tokenTimes.get('old')).toHaveLength(12);
    expect(tokenTimes.get('new')).toHaveLength(12);
    // The preempted sequence looked its prompt up again when it was rescheduled.
    expect(observer.lookups.length).toBe(2 + observer.preemptions);
    expect(engine.stats()).toMatchObject({ usedBlocks: 0, preemptions: observer.preemptions });
  });

  it('frees a cancelled sequence at once and never calls it again', () => {
    const { clock, engine, tokenTimes, done, submit } = setup();
    const cancel = submit('a', promptOf('a', 100), 50);
    clock.advance(150);
    const seen = tokenTimes.get('a')!.length;
    cancel();
    expect(engine.stats()).toMatchObject({ running: 0, usedBlocks: 0 });
    clock.advance(10_000);
    expect(tokenTimes.get('a')).toHaveLength(seen);
    expect(done).toEqual([]);
  });

  it('splits long prefills over steps within the token budget', () => {
    const { clock, tokenTimes, submit } = setup({ maxBatchedTokens: 64 });
    submit('a', promptOf('a', 200), 1);
    clock.advance(10_000);
    expect(tokenTimes.get('a')).toEqual([200]);
    const busy = setup({ maxBatchedTokens: 64 });
    busy.submit('d', promptOf('d', 10), 100);
    busy.clock.advance(10);
    busy.submit('a', promptOf('a', 200), 1);
    busy.clock.advance(10_000);
    // While d decodes, a's prefill goes 63 tokens a step, interleaved with d's tokens.
    const d = busy.tokenTimes.get('d')!;
    expect(d.filter((t) => t < busy.tokenTimes.get('a')![0]!).length).toBeGreaterThan(2);
  });

  it('refuses a request that could never fit in the KV cache', () => {
    const { engine } = setup({ kvBlocks: 4 });
    expect(engine.refusal(promptOf('a', 60), 4)).toBeUndefined();
    expect(engine.refusal(promptOf('a', 60), 5)).toMatch(/KV cache/);
    expect(() => engine.submit({ prompt: promptOf('a', 100), outputTokens: 1, onToken: () => undefined, onFinish: () => undefined })).toThrow(RangeError);
  });
});
