/** The simulated inference engine behind ENGINE=sim: continuous batching, KV and prefix cache, model residency. */
export { realClock, delay, type EngineClock } from './clock.js';
export { ENGINE_DEFAULTS, type EngineConfig } from './config.js';
export { KvCache } from './kv-cache.js';
export { Engine, type EngineObserver, type EngineStats, type SubmitRequest } from './scheduler.js';
export { ModelResidency, type ResidentModel } from './residency.js';
export { EngineMetrics, type SimulatedModel } from './metrics.js';
export { blockHashes, simTokenCount, CHARS_PER_TOKEN } from './tokenizer.js';
export { SimulatedFleet, type FleetOptions } from './fleet.js';
