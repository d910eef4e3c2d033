export { Access, isProbePath } from './access.js';
export { ApiKeyRing, presentedKey, type NamedKey } from './api-keys.js';
export { networkMatcher } from './networks.js';
export { RateLimit, rateWindows, type RateVerdict, type Window } from './rate-limit.js';
