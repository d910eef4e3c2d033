import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../../src/config/index.js';
import { restartOnly } from '../../../src/runtime/control.js';

const base = { endpoints: [{ name: 'a', url: 'http://127.0.0.1:9' }] };
const server = (extra: Record<string, unknown>) => validateConfig({ ...base, server: { port: 8080, ...extra } }).server;

describe('restartOnly', () => {
  it('names the server.* settings a reload changes that wait for a restart, not those applied at once', () => {
    expect(restartOnly(server({}), server({ shutdown_grace: '5s' }))).toEqual([]);
    expect(restartOnly(server({}), server({ trusted_proxies: ['10.0.0.0/8'] }))).toEqual([]);
    expect(restartOnly(server({}), server({ port: 8081 }))).toEqual(['server.port']);
    expect(restartOnly(server({}), server({ trusted_proxies: ['10.0.0.0/8'], headers_timeout: '20s' }))).toEqual(['server.headers_timeout']);
    expect(restartOnly(server({}), server({}))).toEqual([]);
  });
});
