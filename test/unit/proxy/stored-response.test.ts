import { describe, expect, it } from 'vitest';
import { StoredResponses } from '../../../src/affinity/index.js';
import { validateConfig } from '../../../src/config/index.js';
import { Endpoint } from '../../../src/endpoints/endpoint.js';
import { createdResponseId, forgetDeletedResponse, namedResponse, watchCreatedResponse } from '../../../src/proxy/stored-response.js';
import { UsageTap } from '../../../src/proxy/usage-tap.js';

function endpoint(): Endpoint {
  const config = validateConfig({ endpoints: [{ name: 'lm', url: 'http://127.0.0.1:1234' }] });
  return new Endpoint(config.endpoints[0]!, config, () => 0);
}

describe('the stored response a request names', () => {
  it('reads the id of the path, of the paths under it, and a body\'s previous_response_id', () => {
    expect(namedResponse('/v1/responses/resp_1', undefined)).toBe('resp_1');
    expect(namedResponse('/v1/responses/resp_1?stream=true&starting_after=3', undefined)).toBe('resp_1');
    expect(namedResponse('/v1/responses/resp_1/input_items?limit=5', undefined)).toBe('resp_1');
    expect(namedResponse('/v1/responses/resp_1/cancel', {})).toBe('resp_1');
    expect(namedResponse('/v1/responses', { model: 'm', input: 'and then?', previous_response_id: 'resp_9' })).toBe('resp_9');
    expect(namedResponse('/v1/responses/input_tokens', { previous_response_id: 'resp_9' })).toBe('resp_9');
  });

  it('names nothing for a new conversation, another API, or a previous_response_id that is no id', () => {
    expect(namedResponse('/v1/responses', { model: 'm', input: 'hi' })).toBeUndefined();
    expect(namedResponse('/v1/responses', { previous_response_id: null })).toBeUndefined();
    expect(namedResponse('/v1/responses', { previous_response_id: '' })).toBeUndefined();
    expect(namedResponse('/v1/responses', { previous_response_id: 42 })).toBeUndefined();
    expect(namedResponse('/v1/responses/', undefined)).toBeUndefined();
    expect(namedResponse('/v1/responsesX/resp_1', undefined)).toBeUndefined();
    expect(namedResponse('/v1/chat/completions', { previous_response_id: 'resp_9' })).toBeUndefined();
    // The API's own paths, and ids longer than any Sluice learns (never sent to Redis).
    expect(namedResponse('/v1/responses/input_tokens', { input: 'hi' })).toBeUndefined();
    expect(namedResponse('/v1/responses/compact', { input: 'hi' })).toBeUndefined();
    expect(namedResponse('/v1/responses', { previous_response_id: `resp_${'x'.repeat(300)}` })).toBeUndefined();
    expect(namedResponse(`/v1/responses/resp_${'x'.repeat(300)}`, undefined)).toBeUndefined();
    expect(namedResponse(`/v1/responses/resp_${'x'.repeat(190)}`, undefined)).toHaveLength(195);
  });
});

describe('the id of a created response', () => {
  it('is the first "id" of a JSON answer or of a stream\'s first event', () => {
    expect(createdResponseId(Buffer.from('{"id": "resp_abc", "object": "response", "output": [{"id": "msg_1"}]}'))).toBe('resp_abc');
    const stream = 'event: response.created\ndata: {"type":"response.created","sequence_number":0,"response":{"id":"resp_def","object":"response","status":"in_progress","output":[]}}\n\n';
    expect(createdResponseId(Buffer.from(stream))).toBe('resp_def');
    // vLLM's order: the response before the event's type.
    expect(createdResponseId(Buffer.from('data: {"response":{"id":"resp_ghi","created_at":1},"sequence_number":0,"type":"response.created"}\n\n'))).toBe('resp_ghi');
    expect(createdResponseId(Buffer.from('{"item_id":"x","output_index":0}'))).toBeUndefined();
    expect(createdResponseId(undefined)).toBeUndefined();
  });
});

describe('learning from answers', () => {
  const owner = { endpoint: 'lm', backend: 'http://127.0.0.1:1234/' };
  /** The answer's chunks pushed through a tap watched for `req`; what the map holds after each. */
  function answer(stored: StoredResponses, req: { method: string; url: string }, json: unknown, status: number, chunks: string[]): Array<number> {
    const tap = new UsageTap();
    watchCreatedResponse(stored, tap, req, json, endpoint(), status);
    return chunks.map((chunk) => {
      tap.push(Buffer.from(chunk));
      return stored.size;
    });
  }

  it('remembers a created response as soon as its id has passed, before the rest of the answer', () => {
    const stored = new StoredResponses({ maxIds: 10, ttlMs: 60_000 });
    const sizes = answer(stored, { method: 'POST', url: '/v1/responses' }, { input: 'hi', stream: true }, 200, ['event: response.created\ndata: {"type":"response.created","response":{"id":"resp_', '1","object":"response"}}\n\n', 'event: response.output_text.delta\ndata: {"delta":"a"}\n\n']);
    expect(sizes).toEqual([0, 1, 1]);
    expect(stored.owner('resp_1')).toEqual(owner);
  });

  it('remembers nothing of a response not stored, a failed answer, or another request', () => {
    const stored = new StoredResponses({ maxIds: 10, ttlMs: 60_000 });
    const body = (id: string) => [`{"id":"${id}","object":"response"}`];
    answer(stored, { method: 'POST', url: '/v1/responses' }, { input: 'hi', store: false }, 200, body('resp_2'));
    answer(stored, { method: 'POST', url: '/v1/responses' }, { input: 'hi' }, 400, body('resp_3'));
    answer(stored, { method: 'GET', url: '/v1/responses/resp_4' }, undefined, 200, body('resp_4'));
    answer(stored, { method: 'POST', url: '/v1/chat/completions' }, {}, 200, body('resp_5'));
    expect(stored.size).toBe(0);
  });

  it('forgets a response deleted, once the deletion succeeded', () => {
    const stored = new StoredResponses({ maxIds: 10, ttlMs: 60_000 });
    stored.remember('resp_1', owner);
    forgetDeletedResponse(stored, { method: 'DELETE', url: '/v1/responses/resp_1' }, 404);
    forgetDeletedResponse(stored, { method: 'GET', url: '/v1/responses/resp_1' }, 200);
    expect(stored.owner('resp_1')).toEqual(owner);
    forgetDeletedResponse(stored, { method: 'DELETE', url: '/v1/responses/resp_1' }, 200);
    expect(stored.owner('resp_1')).toBeUndefined();
  });
});
