import { describe, expect, it } from 'vitest';
import { TargetPolicy } from '../../../src/proxy/target.js';
import { configSchema } from '../../../src/config/schema.js';

const defaults = configSchema.parse({ endpoints: [{ name: 'a', url: 'http://127.0.0.1:1' }] }).proxy.allowed_paths;
const policy = new TargetPolicy(defaults);

describe('which targets are forwarded', () => {
  it('forwards the inference API paths by default', () => {
    for (const path of ['/v1/chat/completions', '/v1/embeddings?x=1', '/api/chat', '/api/generate', '/api/embed', '/api/embeddings', '/api/tags', '/api/show', '/predict']) {
      expect(policy.refusal(path), path).toBeUndefined();
    }
  });

  it('refuses other paths with a 404, and unforwardable targets and dot-segments with a 400', () => {
    for (const path of ['/admin/fault', '/api/pull', '/api/delete', '/metrics', '/', '/v1']) expect(policy.refusal(path)?.status, path).toBe(404);
    for (const target of ['*', 'http://evil.example/v1/models', '', '/v1/../admin/fault', '/v1/%2E%2e/x', '/v1/./x', '/v1/chat/..']) {
      expect(policy.refusal(target)?.status, target).toBe(400);
    }
    expect(policy.refusal('/v1/a..b')).toBeUndefined();
  });

  it('refuses dot-segments between encoded slashes or backslashes, which a backend or a proxy in front of it may resolve', () => {
    // nginx decodes %2F before resolving dot-segments: /v1/..%2Fadmin/fault is /admin/fault behind it.
    for (const target of ['/v1/..%2fadmin/fault', '/v1/..%2Fadmin', '/v1/%2e%2e%2Fadmin', '/v1/.%2E%2f..%2fadmin', '/v1/..%5cadmin', '/v1/..\\admin', '/v1\\..\\admin', '/v1/..;/admin', '/v1/x/%2e%2e', '/v1/..%2F']) {
      expect(policy.refusal(target)?.status, target).toBe(400);
    }
    for (const target of ['/v1/a..%2fb', '/v1/..a', '/v1/models%2fx', '/v1/...', '/v1/x;y']) expect(policy.refusal(target), target).toBeUndefined();
  });

  it('is configurable: exact paths and prefixes', () => {
    const custom = new TargetPolicy(['/only', '/pre/*']);
    expect(custom.refusal('/only')).toBeUndefined();
    expect(custom.refusal('/only/more')?.status).toBe(404);
    expect(custom.refusal('/pre/anything')).toBeUndefined();
  });
});
