import { describe, expect, it } from 'vitest';
import { formatDuration, formatSize, parseDuration, parseSize } from '../../../src/config/index.js';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5_000],
    ['1.5s', 1_500],
    ['1m', 60_000],
    ['1h', 3_600_000],
    ['1m30s', 90_000],
    ['1h2m3s4ms', 3_723_004],
    ['0.25s', 250],
    ['1.1s', 1_100],
    ['300s', 300_000],
    ['0', 0],
    ['0s', 0],
    [' 5s ', 5_000],
  ])('%s -> %d ms', (text, expected) => {
    expect(parseDuration(text)).toBe(expected);
  });

  it.each(['', '5', '10', '5 s', '5sec', 's', '-1s', '1.s', '30s1m', '1s1s', '1d', '0.5ms', '1e3ms', 'abc'])(
    'rejects %j',
    (text) => {
      expect(() => parseDuration(text)).toThrow(RangeError);
    },
  );
});

describe('formatDuration', () => {
  it.each([
    [0, '0s'],
    [500, '500ms'],
    [1_000, '1s'],
    [1_500, '1.5s'],
    [1_050, '1.05s'],
    [5_000, '5s'],
    [60_000, '1m'],
    [90_000, '1m30s'],
    [60_500, '1m500ms'],
    [3_600_000, '1h'],
    [3_723_004, '1h2m3.004s'],
    [300_000, '5m'],
  ])('%d ms -> %s', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected);
  });

  it('round-trips through parseDuration', () => {
    for (const ms of [0, 1, 7, 999, 1_000, 1_001, 59_999, 60_000, 61_001, 3_599_999, 3_600_000, 90_061_001]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });

  it('rejects negative and fractional values', () => {
    expect(() => formatDuration(-1)).toThrow(RangeError);
    expect(() => formatDuration(1.5)).toThrow(RangeError);
  });
});

describe('parseSize', () => {
  it.each<[string | number, number]>([
    ['512B', 512],
    ['64KiB', 65_536],
    ['10MiB', 10_485_760],
    ['1GiB', 1_073_741_824],
    ['64KB', 64_000],
    ['10MB', 10_000_000],
    ['1GB', 1_000_000_000],
    ['1.5MiB', 1_572_864],
    ['10 MiB', 10_485_760],
    ['2048', 2_048],
    [4096, 4_096],
    [0, 0],
  ])('%j -> %d bytes', (text, expected) => {
    expect(parseSize(text)).toBe(expected);
  });

  it.each<string | number>(['', 'MiB', '10mib', '10 potatoes', '1.5', '1.5B', '-1KiB', '0.1KiB', -1, 1.5])('rejects %j', (text) => {
    expect(() => parseSize(text)).toThrow(RangeError);
  });
});

describe('formatSize', () => {
  it.each([
    [0, '0B'],
    [512, '512B'],
    [1_024, '1KiB'],
    [65_536, '64KiB'],
    [10_485_760, '10MiB'],
    [1_073_741_824, '1GiB'],
    [1_000, '1KB'],
    [10_000_000, '10MB'],
    [1_500, '1500B'],
    [1_572_864, '1536KiB'],
  ])('%d bytes -> %s', (bytes, expected) => {
    expect(formatSize(bytes)).toBe(expected);
  });

  it('round-trips through parseSize', () => {
    for (const bytes of [0, 1, 1_023, 1_024, 1_025, 1_000, 999_999, 1_048_576, 5_000_000_000, 3 * 1024 ** 3]) {
      expect(parseSize(formatSize(bytes))).toBe(bytes);
    }
  });
});
