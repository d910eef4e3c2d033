import { describe, expect, it } from 'vitest';
import { joinUrl } from '../../../src/endpoints/endpoint-http.js';

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
