import { describe, expect, it } from 'vitest';
import { ApiKeyRing, bucketOf, decide, digestKeys, isProbePath, limitedAddress, networkMatcher, openBucketStore, presentedKeys, RateLimit } from '../../../src/access/index.js';
import { DEFAULT_ADMIN_ALLOW, parseConfig, renderEffectiveConfig, validateConfig } from '../../../src/config/index.js';

const ENDPOINTS = [{ name: 'a', url: 'http://127.0.0.1:1' }];

describe('admin networks', () => {
  const defaults = networkMatcher(DEFAULT_ADMIN_ALLOW);
  it.each([
    ['127.0.0.1', true],
    ['127.255.0.9', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true], // IPv4 client on a dual-stack socket
    ['10.42.3.7', true], // Kubernetes pod network
    ['172.18.0.4', true], // Docker Compose bridge
    ['172.32.0.1', false], // just past 172.16/12
    ['192.168.1.20', true],
    ['fd12:3456::1', true],
    ['fe80::1', false],
    ['8.8.8.8', false],
    ['::ffff:8.8.8.8', false],
    ['2001:db8::1', false],
    ['not-an-ip', false],
    [undefined, false],
  ])('%s -> %s', (address, allowed) => {
    expect(defaults(address)).toBe(allowed);
  });

  it('single addresses and an empty list', () => {
    expect(networkMatcher(['192.0.2.7'])('192.0.2.7')).toBe(true);
    expect(networkMatcher(['192.0.2.7'])('192.0.2.8')).toBe(false);
    expect(networkMatcher([])('127.0.0.1')).toBe(false);
    expect(networkMatcher(['0.0.0.0/0', '::/0'])('203.0.113.9')).toBe(true);
  });
});

describe('API keys', () => {
  const ring = new ApiKeyRing(
    digestKeys([
      { name: 'alpha', key: 'sk-alpha-0123456789' },
      { name: 'beta', key: 'sk-beta' },
    ]),
  );

  it('finds the configured name of a key, only for an exact match', () => {
    expect(ring.nameOf('sk-alpha-0123456789')).toBe('alpha');
    expect(ring.nameOf('sk-beta')).toBe('beta');
    for (const wrong of ['sk-alpha', 'sk-alpha-01234567890', 'SK-BETA', '', 'sk-beta ']) expect(ring.nameOf(wrong)).toBeUndefined();
    expect(ring.names).toEqual(['alpha', 'beta']);
  });

  it('reads the key from Authorization: Bearer or x-api-key', () => {
    expect(presentedKeys({ authorization: 'Bearer sk-1' })[0]).toBe('sk-1');
    expect(presentedKeys({ authorization: 'bearer   sk-1 ' })[0]).toBe('sk-1');
    expect(presentedKeys({ 'x-api-key': 'sk-2' })[0]).toBe('sk-2');
    expect(presentedKeys({ authorization: 'Basic dTpw', 'x-api-key': 'sk-3' })[0]).toBe('sk-3');
    expect(presentedKeys({ authorization: 'Bearer' })[0]).toBeUndefined();
    expect(presentedKeys({ authorization: 'Bearer a b' })[0]).toBeUndefined();
    expect(presentedKeys({})[0]).toBeUndefined();
  });

  it('both headers: both keys, Authorization first, once when they are the same', () => {
    expect(presentedKeys({ authorization: 'Bearer gateway', 'x-api-key': 'sk-1' })).toEqual(['gateway', 'sk-1']);
    expect(presentedKeys({ authorization: 'Bearer sk-1', 'x-api-key': 'sk-1' })).toEqual(['sk-1']);
    expect(presentedKeys({ authorization: 'Basic dTpw', 'x-api-key': ' ' })).toEqual([]);
    expect(ring.nameOfAny(['gateway', 'sk-beta'])).toBe('beta');
    expect(ring.nameOfAny(['sk-alpha-0123456789', 'sk-beta'])).toBe('alpha');
    expect(ring.nameOfAny(['gateway', 'nope'])).toBeUndefined();
    expect(ring.nameOfAny([])).toBeUndefined();
  });

  it('probe paths skip the admin token', () => {
    expect(isProbePath('/internal/health')).toBe(true);
    expect(isProbePath('/internal/status')).toBe(false);
    expect(isProbePath('/metrics')).toBe(false);
    expect(isProbePath('/internal/healthy')).toBe(false);
  });
});

describe('the address a per-address limit counts', () => {
  it('IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64 (one host rotating addresses is one client)', () => {
    expect(limitedAddress('203.0.113.7')).toBe('203.0.113.7');
    expect(limitedAddress('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(limitedAddress('2001:db8:1:2:aaaa:bbbb:cccc:dddd')).toBe('2001:db8:1:2::/64');
    expect(limitedAddress('2001:db8:1:2::9')).toBe('2001:db8:1:2::/64');
    expect(limitedAddress('2001:0db8:0001:0002:0:0:0:1')).toBe('2001:db8:1:2::/64');
    expect(limitedAddress('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(limitedAddress('::1')).toBe('0:0:0:0::/64');
    expect(limitedAddress('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(limitedAddress(undefined)).toBe('unknown');
  });

  it('anything that is not an address is one client, unknown: never a bucket per text (an address with its port, a name)', () => {
    for (const text of ['203.0.113.7:40001', '203.0.113.7:40002', 'unknown', '_hidden', '[2001:db8::1]:4711']) expect(limitedAddress(text)).toBe('unknown');
  });
});

describe('rate limits: a token bucket (GCRA)', () => {
  it('one request costs period / rate; a burst may run (burst - 1) of them ahead', () => {
    expect(bucketOf({ rate: 10, period: 1000, burst: 10 })).toEqual({ emissionMs: 100, toleranceMs: 900 });
    expect(bucketOf({ rate: 1, period: 60_000, burst: 4 })).toEqual({ emissionMs: 60_000, toleranceMs: 180_000 });
  });

  it('from idle, burst requests pass at once; the next waits one emission interval', () => {
    const bucket = bucketOf({ rate: 1, period: 60_000, burst: 3 });
    let tat: number | undefined;
    const seen = [];
    for (let i = 0; i < 4; i++) {
      const d = decide(bucket, tat, 0);
      if (d.allowed) tat = d.tat;
      seen.push([d.allowed, d.remaining, d.waitMs]);
    }
    expect(seen).toEqual([[true, 2, 60_000], [true, 1, 120_000], [true, 0, 180_000], [false, 0, 60_000]]);
    // One interval later, exactly one more passes.
    expect(decide(bucket, tat, 60_000)).toMatchObject({ allowed: true, remaining: 0 });
  });

  // The two fixed windows this replaced (rate per period, plus a reserve of burst - rate coming
  // back every (burst - rate) / rate periods) let a client that kept sending get twice `rate`.
  it.each([
    [5, 1000, 10],
    [5, 1000, 6],
    [1, 1000, 8],
  ])('a client that never stops gets rate %i per %i ms (burst %i), not more', (rate, period, burst) => {
    const bucket = bucketOf({ rate, period, burst });
    let tat: number | undefined;
    let admitted = 0;
    const seconds = 60;
    for (let now = 0; now < seconds * 1000; now += 5) {
      const d = decide(bucket, tat, now);
      if (d.allowed) {
        tat = d.tat;
        admitted++;
      }
    }
    // The burst at the start, then exactly `rate` per period.
    expect(admitted).toBe(burst - 1 + Math.ceil((seconds * 1000) / (period / rate)));
  });

  it('in memory: a burst of N is admitted, the N+1th refused, other keys unaffected; time refills it', async () => {
    const clock = { ms: 1_000_000 };
    const cfg = { rate: 2, period: 60_000, burst: 5, by: 'key', redis_url: null, redis_timeout: 200 } as const;
    const limit = new RateLimit(cfg, openBucketStore(cfg, undefined, () => clock.ms));
    const verdicts = [];
    for (let i = 0; i < 6; i++) verdicts.push(await limit.consume('k1'));
    expect(verdicts.slice(0, 5).map((v) => v.kind)).toEqual(['allowed', 'allowed', 'allowed', 'allowed', 'allowed']);
    expect(verdicts[0]).toMatchObject({ limit: 5, remaining: 4, resetSeconds: 30 });
    expect(verdicts[5]).toEqual({ kind: 'limited', limit: 5, remaining: 0, resetSeconds: 30 });
    expect((await limit.consume('k2')).kind).toBe('allowed');
    clock.ms += 30_000;
    expect((await limit.consume('k1')).kind).toBe('allowed');
    expect((await limit.consume('k1')).kind).toBe('limited');
    limit.close();
  });
});

describe('configuration', () => {
  it('defaults: admin open to loopback and private ranges, no keys (10 wrong ones a minute per address), no rate limits', () => {
    const cfg = validateConfig({ endpoints: ENDPOINTS });
    expect(cfg.admin).toEqual({ allow: [...DEFAULT_ADMIN_ALLOW], bearer_token_env: null });
    expect(cfg.auth).toEqual({ api_keys: [], invalid_keys_per_minute: 10 });
    expect(cfg.rate_limits).toBeNull();
  });

  it('auth.invalid_keys_per_minute: 0 turns the limit off; a negative or fractional count is refused', () => {
    expect(validateConfig({ endpoints: ENDPOINTS, auth: { invalid_keys_per_minute: 0 } }).auth.invalid_keys_per_minute).toBe(0);
    expect(() => validateConfig({ endpoints: ENDPOINTS, auth: { invalid_keys_per_minute: -1 } })).toThrow(/invalid_keys_per_minute/);
    expect(() => validateConfig({ endpoints: ENDPOINTS, auth: { invalid_keys_per_minute: 2.5 } })).toThrow(/invalid_keys_per_minute/);
  });

  it('rate limits: burst defaults to rate; period in whole seconds', () => {
    const cfg = validateConfig({ endpoints: ENDPOINTS, rate_limits: { rate: 5 } });
    expect(cfg.rate_limits).toEqual({ rate: 5, period: 1000, burst: 5, by: 'key', redis_url: null, redis_timeout: 200 });
  });

  it.each([
    [{ rate_limits: { rate: 5, burst: 4 } }, /burst.*at least rate/],
    [{ rate_limits: { rate: 5, period: '1500ms' } }, /whole seconds/],
    [{ rate_limits: { rate: 0 } }, /positive integer/],
    [{ rate_limits: { rate: 5, redis_url: 'http://127.0.0.1:6379' } }, /redis:\/\//],
    [{ rate_limits: { rate: 5, by: 'ip' } }, /rate_limits\.by/],
    [{ admin: { allow: ['10.0.0.0/33'] } }, /IP address or CIDR/],
    [{ admin: { bearer_token_env: 'not a name' } }, /environment variable name/],
    [{ auth: { api_keys: [{ name: 'a', key_env: 'A', key_file: '/k' }] } }, /exactly one of key_env and key_file/],
    [{ auth: { api_keys: [{ name: 'a' }] } }, /exactly one of key_env and key_file/],
    [{ auth: { api_keys: [{ name: 'anonymous', key_env: 'A' }] } }, /reserved/],
    [{ auth: { api_keys: [{ name: 'a b', key_env: 'A' }] } }, /A-Z a-z 0-9/],
    [{ auth: { api_keys: [{ name: 'a', key_env: 'A' }, { name: 'a', key_env: 'B' }] } }, /duplicate key name "a"/],
  ])('rejects %j', (section, message) => {
    expect(() => validateConfig({ endpoints: ENDPOINTS, ...section })).toThrow(message);
  });

  it('renders back to the same configuration, Redis credentials hidden', () => {
    const cfg = validateConfig({
      endpoints: ENDPOINTS,
      admin: { allow: ['10.0.0.0/8'], bearer_token_env: 'ADMIN_TOKEN' },
      auth: { api_keys: [{ name: 'a', key_env: 'A_KEY' }, { name: 'b', key_file: '/run/secrets/b' }] },
      rate_limits: { rate: 5, period: '1m', burst: 20, by: 'address', redis_url: 'redis://127.0.0.1:6379' },
    });
    expect(parseConfig(renderEffectiveConfig(cfg))).toEqual(cfg);
    const secret = validateConfig({ endpoints: ENDPOINTS, rate_limits: { rate: 1, redis_url: 'redis://user:hunter2@redis:6379/0' } });
    expect(renderEffectiveConfig(secret)).not.toContain('hunter2');
  });
});
