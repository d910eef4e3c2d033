export { Access, isProbePath } from './access.js';
export { ApiKeyRing, presentedKey, type NamedKey } from './api-keys.js';
export { limitedAddress, networkMatcher } from './networks.js';
export { bucketOf, decide, type Bucket } from './gcra.js';
export { RateLimit, type RateVerdict } from './rate-limit.js';
