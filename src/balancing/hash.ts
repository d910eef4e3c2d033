/**
 * Fast, deterministic string hashing for rendezvous scores. Results depend only on the
 * input text, so every Sluice replica computes the same values without coordination.
 * Plain 32-bit integer arithmetic (Math.imul) is used rather than BigInt, which allocates
 * and is several times slower on this per-request path.
 */

/** A 64-bit hash as two unsigned 32-bit halves. */
export interface Hash64 {
  readonly high: number;
  readonly low: number;
}

/** murmur3's 32-bit finaliser: a bijection with full avalanche. */
function mix32(value: number): number {
  let mixed = value;
  mixed ^= mixed >>> 16;
  mixed = Math.imul(mixed, 0x85ebca6b);
  mixed ^= mixed >>> 13;
  mixed = Math.imul(mixed, 0xc2b2ae35);
  mixed ^= mixed >>> 16;
  return mixed >>> 0;
}

/** Hashes UTF-16 code units into two independent 32-bit lanes, then cross-mixes them. */
export function hashString(text: string): Hash64 {
  let laneA = 0x811c9dc5;
  let laneB = 0x9e3779b9;
  for (let index = 0; index < text.length; index++) {
    const codeUnit = text.charCodeAt(index);
    laneA = Math.imul(laneA ^ codeUnit, 0x01000193);
    laneB = Math.imul(laneB ^ codeUnit, 0x5bd1e995);
    laneB ^= laneB >>> 15;
  }
  // Fold in the length so that inputs differing only by trailing zero code units differ.
  laneA = mix32(laneA ^ text.length);
  laneB = mix32(laneB ^ Math.imul(laneA, 0x27d4eb2f));
  return { high: mix32(laneA ^ laneB), low: laneB };
}

const TWO_POW_20 = 2 ** 20;
const TWO_POW_52 = 2 ** 52;

/**
 * Combines two hashes into a uniform number strictly inside (0, 1). Three Feistel-style
 * rounds keep the combination a bijection of the XORed input, so distinct (key, endpoint)
 * pairs give unrelated values.
 */
export function unitInterval(first: Hash64, second: Hash64): number {
  const left = (first.high ^ second.high) >>> 0;
  const right = (first.low ^ second.low) >>> 0;
  const roundOne = mix32(left ^ Math.imul(right, 0x9e3779b1));
  const roundTwo = mix32(right ^ Math.imul(roundOne, 0x85ebca6b));
  const roundThree = mix32(roundOne ^ Math.imul(roundTwo, 0xc2b2ae35));
  // 52 random bits; (bits + 0.5) / 2^52 is exact in a double and never 0 or 1.
  const bits = roundThree * TWO_POW_20 + (roundTwo >>> 12);
  return (bits + 0.5) / TWO_POW_52;
}

const TWO_POW_32 = 2 ** 32;
const HIGH_21_BITS = 0x1fffff;

/**
 * Hashes `text[start, end)` chained onto `previous` (a block hash, or 0 for the first block):
 * equal prefixes give equal leading hashes, and a block's hash stands for everything before
 * it. The result is a non-negative integer below 2^53, exact as a number and a Map key.
 */
export function hashBlock(previous: number, text: string, start: number, end: number): number {
  let laneA = mix32((previous % TWO_POW_32) ^ 0x811c9dc5);
  let laneB = mix32(Math.floor(previous / TWO_POW_32) ^ 0x9e3779b9);
  for (let index = start; index < end; index++) {
    const codeUnit = text.charCodeAt(index);
    laneA = Math.imul(laneA ^ codeUnit, 0x01000193);
    laneB = Math.imul(laneB ^ codeUnit, 0x5bd1e995);
    laneB ^= laneB >>> 15;
  }
  laneA = mix32(laneA ^ (end - start));
  laneB = mix32(laneB ^ Math.imul(laneA, 0x27d4eb2f));
  return (mix32(laneA ^ laneB) & HIGH_21_BITS) * TWO_POW_32 + laneB;
}

/** A block hash as the two halves `unitInterval` combines (rendezvous hashing on a prefix). */
export function blockHash64(block: number): Hash64 {
  return { high: Math.floor(block / TWO_POW_32) >>> 0, low: block >>> 0 };
}
