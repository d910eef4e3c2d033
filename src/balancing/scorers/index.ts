export { kvCacheScore, TOKENS_SMOOTHING } from './kv-cache.js';
export { prefixScore } from './prefix.js';
export { queueCost, queueRequests, queueScore } from './queue.js';
export { residentScore } from './resident.js';
