// Cost of one routing decision: `prefix-aware` (and `load-aware`) over 64 endpoints with backend
// load for each and a full prefix index. Runs on the compiled build (`npm run build` first):
// node bench/routing/decision-cost.mjs. Prints the p50/p99 of single decisions, in microseconds.
import { createSelector } from '../../dist/balancing/index.js';

const ENDPOINTS = 64;
const INDEX_SIZE = Number(process.env.INDEX_SIZE ?? 100_000); // balancing.prefix.index_size default
const BLOCKS_PER_PROMPT = 32; // an 8,192-character prompt at the default 256-character blocks
const DECISIONS = 20_000;
/** `balancing.prefix.fit_fraction` is 0 (off) by default; timed on, its working-set count is the costlier case. */
const FIT_FRACTION = 0.75;

let seed = 42;
const random = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 4294967296);
const candidates = Array.from({ length: ENDPOINTS }, (_, i) => ({ name: `endpoint-${i}`, weight: 1, activeConnections: Math.floor(random() * 16), priority: 0, backup: false }));
const load = new Map(candidates.map((c) => [c.name, { requests: Math.floor(random() * 32), kvUsage: random(), tokens: Math.floor(random() * 8000), resident: true, stale: false, kvCapacityTokens: 32_768 }]));
const prompt = (tenant, user) => {
  const blocks = [];
  for (let b = 0; b < BLOCKS_PER_PROMPT; b++) blocks.push(b < 24 ? tenant * 1_000_003 + b : (tenant * 7919 + user) * 1_000_003 + b);
  return { blocks, tokens: BLOCKS_PER_PROMPT * 64 };
};

function measure(strategy) {
  const selector = createSelector(strategy, { load: (name) => load.get(name), prefix: { indexSize: INDEX_SIZE, ttlMs: 600_000, maxImbalanceRatio: 1.5, maxImbalanceRequests: 2, fitFraction: FIT_FRACTION, blockTokens: 64 } });
  // Fill the index: distinct prompts recorded on random endpoints until it holds INDEX_SIZE blocks.
  for (let i = 0; selector.prefixIndex && selector.prefixIndex.size < INDEX_SIZE; i++) selector.prefixIndex.record(prompt(i, i % 7).blocks, candidates[i % ENDPOINTS].name);
  const times = new Float64Array(DECISIONS);
  for (let i = 0; i < DECISIONS + 2_000; i++) {
    const ctx = { model: 'm', prompt: prompt(Math.floor(random() * 5000), Math.floor(random() * 8)) };
    const started = process.hrtime.bigint();
    // A decision, and the record of where the request went (prefix-aware's index write).
    const decision = selector.decide(candidates, ctx);
    if (decision) selector.sent(decision.endpoint.name, ctx);
    const took = Number(process.hrtime.bigint() - started) / 1000;
    if (i >= 2_000) times[i - 2_000] = took; // the first 2,000 warm the JIT
  }
  times.sort();
  const at = (p) => times[Math.min(times.length - 1, Math.ceil((p / 100) * times.length) - 1)];
  return { strategy, endpoints: ENDPOINTS, indexBlocks: selector.prefixIndex?.size ?? 0, decisions: DECISIONS, p50Us: +at(50).toFixed(1), p99Us: +at(99).toFixed(1) };
}

for (const strategy of ['prefix-aware', 'load-aware']) process.stdout.write(`${JSON.stringify(measure(strategy))}\n`);
