import { describe, expect, it } from 'vitest';
import YAML from 'yaml';
import {
  parseConfig,
  redactUrl,
  redactedConfig,
  renderEffectiveConfig,
  validateConfig,
} from '../../../src/config/index.js';

describe('redactUrl', () => {
  it.each([
    ['http://user:pass@host:1/base', 'http://***@host:1/base'],
    ['https://token@host', 'https://***@host'],
    ['http://user:p@ss@host:1', 'http://***@host:1'],
    ['http://host:1/path@x', 'http://host:1/path@x'],
    ['http://host:1', 'http://host:1'],
    ['not a url', 'not a url'],
  ])('%s -> %s', (url, expected) => {
    expect(redactUrl(url)).toBe(expected);
  });
});

describe('renderEffectiveConfig', () => {
  it('never shows URL credentials or bearer token values', () => {
    const password = 'hunter2-password';
    const token = 'sk-very-secret-token';
    const config = validateConfig({
      endpoints: [
        { name: 'a', url: `https://opsuser:${password}@models.example:8443/v1`, bearer_token_env: 'UPSTREAM_TOKEN' },
      ],
    });
    process.env.UPSTREAM_TOKEN = token;
    try {
      const rendered = renderEffectiveConfig(config);
      const asJson = JSON.stringify(redactedConfig(config));
      for (const output of [rendered, asJson]) {
        expect(output).not.toContain(password);
        expect(output).not.toContain('opsuser');
        expect(output).not.toContain(token);
        expect(output).toContain('https://***@models.example:8443/v1');
        expect(output).toContain('UPSTREAM_TOKEN');
      }
    } finally {
      delete process.env.UPSTREAM_TOKEN;
    }
  });

  it('renders durations and sizes in human units', () => {
    const config = validateConfig({
      limits: { max_body: 10_485_760, max_body_total: 268_435_456 },
      health: { slow_start: '90s' },
      proxy: { first_token_timeout: '1500ms' },
      endpoints: [{ name: 'a', url: 'http://h:1', check_interval: '1500ms' }, { name: 'b', url: 'http://h:2', first_token_timeout: '10s' }],
    });
    const plain = redactedConfig(config) as {
      limits: { max_body: string; max_body_total: string };
      health: { slow_start: string; degraded_latency: string };
      proxy: { first_byte_timeout: string; first_token_timeout: string };
      endpoints: Array<{ check_interval: string; check_timeout: string; first_token_timeout: string | null }>;
    };
    expect(plain.limits.max_body).toBe('10MiB');
    expect(plain.limits.max_body_total).toBe('256MiB');
    expect(plain.health.slow_start).toBe('1m30s');
    expect(plain.health.degraded_latency).toBe('1s');
    expect(plain.proxy.first_byte_timeout).toBe('5m');
    expect(plain.proxy.first_token_timeout).toBe('1.5s');
    expect(plain.endpoints.map((e) => e.first_token_timeout)).toEqual([null, '10s']);
    expect(plain.endpoints[0].check_interval).toBe('1.5s');
    expect(plain.endpoints[0].check_timeout).toBe('2s');
    expect(renderEffectiveConfig(config)).toMatch(/^ {2}max_body: 10MiB$/m);
  });

  it('produces YAML that parses back to the same configuration', () => {
    const config = validateConfig({
      server: { host: '127.0.0.1', port: 9000, admin_port: 9001 },
      balancing: { strategy: 'least-connections', sticky: { key: 'cookie:sid', trusted_proxies: ['10.0.0.0/8', 'fd00::/8'] } },
      health: { slow_start: 0 },
      endpoints: [
        { name: 'a', url: 'http://h:1/base', type: 'ollama', weight: 3, max_connections: 4 },
        { name: 'b', url: 'http://h:2', type: 'vllm', backup: true, health_expected_status: 200, bearer_token_env: 'TOKEN' },
      ],
    });
    const rendered = renderEffectiveConfig(config);
    expect(parseConfig(rendered, 'rendered')).toEqual(config);
    expect(YAML.parse(rendered)).toEqual(redactedConfig(config));
  });

  it('does not share mutable state with the configuration', () => {
    const config = validateConfig({ endpoints: [{ name: 'a', url: 'http://h:1' }] });
    const plain = redactedConfig(config) as { proxy: { retry_on_status: number[] } };
    plain.proxy.retry_on_status.push(500);
    expect(config.proxy.retry_on_status).toEqual([502, 503, 504]);
  });
});
