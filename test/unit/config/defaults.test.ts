import { describe, expect, it } from 'vitest';
import { ENDPOINT_TYPE_DEFAULTS, ENDPOINT_TYPES, validateConfig } from '../../../src/config/index.js';

const minimal = { endpoints: [{ name: 'a', url: 'http://127.0.0.1:11434' }] };

describe('defaults', () => {
  it('fills every section when only endpoints are given', () => {
    const config = validateConfig(minimal);
    expect(config.server).toEqual({ host: '0.0.0.0', port: 8080, admin_port: null, trusted_proxies: [], shutdown_grace: 30_000, headers_timeout: 10_000, request_timeout: 60_000, max_connections: 10_000, workers: 1 });
    expect(config.logging).toEqual({ level: 'info', access_log: true });
    expect(config.limits).toEqual({ max_body: 10 * 1024 * 1024, max_body_total: 256 * 1024 * 1024 });
    expect(config.balancing).toEqual({
      strategy: 'round-robin',
      sticky: null,
      scorers: { queue: 1, kv_cache: 1, prefix: 1, resident: 1 },
      prefix: { block_chars: 256, max_blocks: 128, index_size: 100_000, ttl: 600_000, max_imbalance_ratio: 1.5, max_imbalance_requests: 2, fit_fraction: 0 },
      stored_responses: { max_ids: 100_000, ttl: 86_400_000, redis_url: null, redis_timeout: 200 },
    });
    expect(config.load).toEqual({ interval: 250, timeout: 500, stale_after: 2_000 });
    expect(config.health).toEqual({
      rise: 2,
      fall: 3,
      degraded_latency: 1_000,
      degraded_error_ratio: 0.5,
      slow_start: 30_000,
    });
    expect(config.breaker).toEqual({ failure_threshold: 5, open_duration: 30_000, count_5xx: true });
    expect(config.proxy).toEqual({
      retries: 2,
      retry_on_status: [502, 503, 504],
      connect_timeout: 5_000,
      first_byte_timeout: 300_000,
      idle_timeout: 60_000,
      client_stall_timeout: 30_000,
      first_token_timeout: null,
      retry_non_idempotent: false,
      allowed_paths: ['/v1/*', '/api/chat', '/api/generate', '/api/embed', '/api/embeddings', '/api/tags', '/api/show', '/predict'],
      expose_route_headers: false,
    });
    expect(config.discovery).toEqual({ interval: 300_000, timeout: 5_000, max_models: 1000 });
  });

  it('takes server.workers as a count or auto', () => {
    expect(validateConfig({ ...minimal, server: { workers: 4 } }).server.workers).toBe(4);
    expect(validateConfig({ ...minimal, server: { workers: 'auto' } }).server.workers).toBe('auto');
  });

  it('fills every endpoint field', () => {
    const [endpoint] = validateConfig(minimal).endpoints;
    expect(endpoint).toEqual({
      name: 'a',
      url: 'http://127.0.0.1:11434',
      type: 'generic',
      weight: 1,
      priority: 0,
      backup: false,
      max_connections: null,
      check_interval: 5_000,
      check_timeout: 2_000,
      health_path: '/health',
      models_path: '/v1/models',
      health_expected_status: null,
      health_body_contains: null,
      bearer_token_env: null,
      load_source: 'none',
      discover: null,
      discover_interval: 10_000,
      first_token_timeout: null,
    });
  });

  it('takes the load source from the type unless the endpoint names one', () => {
    const endpoints = validateConfig({
      endpoints: [
        { name: 'v', url: 'http://127.0.0.1:8000', type: 'vllm' },
        { name: 'o', url: 'http://127.0.0.1:11434', type: 'ollama' },
        { name: 's', url: 'http://127.0.0.1:30000', type: 'openai', load_source: 'sglang' },
        { name: 'quiet', url: 'http://127.0.0.1:8001', type: 'vllm', load_source: 'none' },
      ],
    }).endpoints;
    expect(endpoints.map((ep) => ep.load_source)).toEqual(['vllm', 'ollama', 'sglang', 'none']);
  });

  it('fills sticky defaults when only the key is given', () => {
    const config = validateConfig({ ...minimal, balancing: { sticky: { key: 'header:X-Session' } } });
    expect(config.balancing.sticky).toEqual({ key: 'header:X-Session', trusted_proxies: [], max_load_factor: 1.25 });
  });

  it('keeps defaults of a section for keys not given', () => {
    const config = validateConfig({ ...minimal, health: { rise: 4 }, proxy: { retries: 0 } });
    expect(config.health.rise).toBe(4);
    expect(config.health.fall).toBe(3);
    expect(config.proxy.retries).toBe(0);
    expect(config.proxy.retry_on_status).toEqual([502, 503, 504]);
  });

  it.each([
    ['ollama', '/', '/api/tags', 'Ollama is running'],
    ['lmstudio', '/v1/models', '/v1/models', null],
    ['vllm', '/health', '/v1/models', null],
    ['llamacpp', '/health', '/v1/models', null],
    ['openai', '/v1/models', '/v1/models', null],
    ['generic', '/health', '/v1/models', null],
  ])('type %s defaults to health %s, models %s, body %j', (type, healthPath, modelsPath, body) => {
    const [endpoint] = validateConfig({ endpoints: [{ name: 'a', url: 'http://h:1', type }] }).endpoints;
    expect(endpoint.health_path).toBe(healthPath);
    expect(endpoint.models_path).toBe(modelsPath);
    expect(endpoint.health_body_contains).toBe(body);
  });

  it('exports a defaults entry for every endpoint type', () => {
    expect(Object.keys(ENDPOINT_TYPE_DEFAULTS).sort()).toEqual([...ENDPOINT_TYPES].sort());
  });

  it('lets an endpoint override its type defaults, and null disables the body check', () => {
    const [custom, noBodyCheck] = validateConfig({
      endpoints: [
        { name: 'a', url: 'http://h:1', type: 'ollama', health_path: '/api/version', models_path: '/m', health_body_contains: 'ok' },
        { name: 'b', url: 'http://h:2', type: 'ollama', health_body_contains: null },
      ],
    }).endpoints;
    expect(custom).toMatchObject({ health_path: '/api/version', models_path: '/m', health_body_contains: 'ok' });
    expect(noBodyCheck.health_body_contains).toBeNull();
  });

  it('converts durations and sizes written by the user', () => {
    const config = validateConfig({
      ...minimal,
      limits: { max_body: '512KiB' },
      health: { slow_start: 0, degraded_latency: '1.5s' },
      discovery: { interval: '1m30s' },
    });
    expect(config.limits.max_body).toBe(524_288);
    expect(config.health.slow_start).toBe(0);
    expect(config.health.degraded_latency).toBe(1_500);
    expect(config.discovery.interval).toBe(90_000);
  });

  it('strips trailing slashes from endpoint URLs but keeps the base path and credentials', () => {
    const [endpoint] = validateConfig({ endpoints: [{ name: 'a', url: 'https://u:p@h:1/api/v1/' }] }).endpoints;
    expect(endpoint.url).toBe('https://u:p@h:1/api/v1');
  });

  it('accepts IPv4 and IPv6 addresses and CIDRs as trusted proxies', () => {
    const proxies = ['10.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', '2001:db8::/128', '0.0.0.0/0'];
    const config = validateConfig({ ...minimal, balancing: { sticky: { key: 'ip', trusted_proxies: proxies } } });
    expect(config.balancing.sticky?.trusted_proxies).toEqual(proxies);
  });

  it.each(['ip', 'forwarded-for', 'header:X-Session-Id', 'cookie:session_id'])('accepts sticky key %s', (key) => {
    expect(validateConfig({ ...minimal, balancing: { sticky: { key } } }).balancing.sticky?.key).toBe(key);
  });
});
