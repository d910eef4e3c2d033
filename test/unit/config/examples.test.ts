import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig, validateConfig } from '../../../src/config/index.js';

const repositoryRoot = fileURLToPath(new URL('../../../', import.meta.url));
const read = (relativePath: string) => readFileSync(repositoryRoot + relativePath, 'utf8');

describe('shipped configuration files', () => {
  it('examples/sluice.yaml parses and documents the real defaults', () => {
    const example = parseConfig(read('examples/sluice.yaml'), 'examples/sluice.yaml');
    const defaults = validateConfig({ endpoints: example.endpoints.map(({ name, url, type }) => ({ name, url, type })) });
    // Every value written in the example is the default, including the fully spelled-out endpoint.
    expect(example).toEqual(defaults);
    expect(example.endpoints[0]).toMatchObject({ name: 'gpu-1', type: 'ollama', health_body_contains: 'Ollama is running' });
  });

  it('examples/sluice.yaml spells out every key of the schema', () => {
    const text = read('examples/sluice.yaml');
    const example = parseConfig(text);
    const keys = new Set<string>();
    const collect = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(collect);
      else if (typeof value === 'object' && value !== null) {
        for (const [key, inner] of Object.entries(value)) {
          keys.add(key);
          collect(inner);
        }
      }
    };
    collect(example);
    for (const stickyKey of ['key', 'trusted_proxies', 'max_load_factor']) keys.add(stickyKey);
    for (const nullableKey of ['name', 'key_env', 'key_file', 'rate', 'period', 'burst', 'by', 'redis_url', 'redis_timeout']) keys.add(nullableKey);
    for (const key of keys) expect(text, `key ${key}`).toMatch(new RegExp(`^\\s*(?:#\\s*|-\\s+)?${key}:`, 'm'));
  });

  it('config/demo.yaml describes three local OpenAI-compatible servers', () => {
    const demo = parseConfig(read('config/demo.yaml'), 'config/demo.yaml');
    expect(demo.server).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(demo.endpoints).toMatchObject([
      { name: 'server-1', url: 'http://127.0.0.1:8001', type: 'openai', weight: 1, health_path: '/health', check_interval: 2_000, check_timeout: 1_000 },
      { name: 'server-2', url: 'http://127.0.0.1:8002', type: 'openai', weight: 2, health_path: '/health', check_interval: 2_000, check_timeout: 1_000 },
      { name: 'server-3', url: 'http://127.0.0.1:8003', type: 'openai', weight: 1, health_path: '/health', check_interval: 2_000, check_timeout: 1_000 },
    ]);
  });
});
