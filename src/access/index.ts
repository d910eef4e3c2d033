export { Access, isProbePath } from './access.js';
export { ApiKeyRing, bearerToken, digestKeys, presentedKeys, type KeyDigest, type NamedKey } from './api-keys.js';
export { limitedAddress, networkMatcher } from './networks.js';
export { bucketOf, decide, type Bucket } from './gcra.js';
export { openBucketStore, type BucketStore } from './bucket-stores.js';
export { RateLimit, type RateVerdict } from './rate-limit.js';
export { RateLimiters } from './rate-limiters.js';
