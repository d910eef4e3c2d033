import { describe, expect, it } from 'vitest';
import { describeFetchError, joinUrl } from '../../../src/endpoints/endpoint-http.js';

describe('joinUrl', () => {
  it("keeps the endpoint URL's base path", () => {
    expect(joinUrl(new URL('http://h:1/v1'), '/models').href).toBe('http://h:1/v1/models');
    expect(joinUrl(new URL('http://h:1/'), '/health').href).toBe('http://h:1/health');
  });

  it('takes a query in the path as the query, not as part of the path (/health?ready=1)', () => {
    expect(joinUrl(new URL('http://h:1'), '/health?ready=1').href).toBe('http://h:1/health?ready=1');
    expect(joinUrl(new URL('http://h:1/api'), '/v1/models?limit=100&x=%20').href).toBe('http://h:1/api/v1/models?limit=100&x=%20');
  });
});

describe('describeFetchError', () => {
  it("keeps an error's message short, whatever the backend's answer made it quote", () => {
    const long = describeFetchError(new Error(`unexpected line: ${'x'.repeat(65_536)}`));
    expect(long.length).toBeLessThanOrEqual(301);
    expect(long.startsWith('unexpected line: xxx')).toBe(true);
    expect(describeFetchError(new Error('connection refused'))).toBe('connection refused');
    expect(describeFetchError(Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } }))).toBe('ECONNREFUSED');
  });
});
