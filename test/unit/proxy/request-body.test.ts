import type { IncomingMessage } from 'node:http';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { SluiceError } from '../../../src/proxy/errors.js';
import { modelOf } from '../../../src/proxy/request-body.js';

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
