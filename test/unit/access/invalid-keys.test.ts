import { describe, expect, it } from 'vitest';
import { InvalidKeyLimit } from '../../../src/access/invalid-keys.js';

describe('wrong API keys per client address', () => {
  it('allows the minute\'s allowance at once, then one more each 60/n seconds; other addresses are apart', () => {
    let now = 0;
    const limit = new InvalidKeyLimit(3, () => now);
    for (let i = 0; i < 3; i++) {
      expect(limit.retryAfterSeconds('203.0.113.7')).toBeUndefined();
      limit.failed('203.0.113.7');
    }
    expect(limit.retryAfterSeconds('203.0.113.7')).toBe(20);
    expect(limit.retryAfterSeconds('203.0.113.8')).toBeUndefined();
    now = 19_500;
    expect(limit.retryAfterSeconds('203.0.113.7')).toBe(1);
    now = 20_000;
    expect(limit.retryAfterSeconds('203.0.113.7')).toBeUndefined();
    limit.failed('203.0.113.7');
    expect(limit.retryAfterSeconds('203.0.113.7')).toBe(20);
    // A minute without wrong keys gives the whole allowance back.
    now = 100_000;
    for (let i = 0; i < 3; i++) {
      expect(limit.retryAfterSeconds('203.0.113.7')).toBeUndefined();
      limit.failed('203.0.113.7');
    }
    expect(limit.retryAfterSeconds('203.0.113.7')).toBe(20);
  });
});
