import http, { type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../src/proxy/errors.js';
import { modelOf, readBody } from '../../../src/proxy/request-body.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
const json = { 'content-type': 'application/json' };

describe('modelOf', () => {
  it('reads the model of a JSON body', () => {
    expect(modelOf(req(json), Buffer.from('{"model":"llama3","messages":[]}'))).toBe('llama3');
    expect(modelOf(req({}), Buffer.from('{"model":"no-content-type"}'))).toBe('no-content-type');
  });

  it('no model: empty body, no model key, a null or empty model', () => {
    expect(modelOf(req(json), Buffer.alloc(0))).toBeUndefined();
    expect(modelOf(req(json), Buffer.from('{"text":"hi"}'))).toBeUndefined();
    expect(modelOf(req(json), Buffer.from('{"model":null}'))).toBeUndefined();
    expect(modelOf(req(json), Buffer.from('{"model":""}'))).toBeUndefined();
    expect(modelOf(req(json), Buffer.from('[1,2]'))).toBeUndefined();
  });

  it('a model that is a number, array, object or boolean: a 400 SluiceError', () => {
    for (const model of ['42', '["m"]', '{"name":"m"}', 'false']) {
      expect(() => modelOf(req(json), Buffer.from(`{"model":${model}}`))).toThrow(expect.objectContaining({ code: 'invalid_request', status: 400 }));
    }
  });

  it('a body that says it is JSON and is not: a 400 SluiceError', () => {
    expect(() => modelOf(req(json), Buffer.from('{"model": '))).toThrow(SluiceError);
    expect(() => modelOf(req(json), Buffer.from('nope'))).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('other bodies pass untouched: form data, and compressed JSON', () => {
    expect(modelOf(req({ 'content-type': 'application/x-www-form-urlencoded' }), Buffer.from('a=1'))).toBeUndefined();
    expect(modelOf(req({ ...json, 'content-encoding': 'gzip' }), gzipSync('{"model":"x"}'))).toBeUndefined();
  });
});

describe('readBody', () => {
  it('a client gone before its body is read (it waited for an asynchronous rate limit) is client_closed, not an internal error', async () => {
    const settled = new Promise<unknown>((resolve) => {
      const server = http.createServer((request) => {
        // Read only once the client has gone, as after a gate's verdict that came late.
        request.socket.once('close', () => setTimeout(() => void readBody(request, 1_000_000).then(resolve, resolve).finally(() => server.close()), 50));
      });
      server.listen(0, '127.0.0.1', () => {
        const socket = net.connect((server.address() as AddressInfo).port, '127.0.0.1', () => {
          socket.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"a":');
          setTimeout(() => socket.destroy(), 50);
        });
      });
    });
    const outcome = await settled;
    expect(outcome).toBeInstanceOf(SluiceError);
    expect(outcome).toMatchObject({ code: 'client_closed', status: 499 });
  });
});
