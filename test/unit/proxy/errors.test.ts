import { describe, expect, it } from 'vitest';
import { errorBody, SluiceError, type SluiceErrorCode } from '../../../src/proxy/errors.js';

// Every error Sluice answers itself, with the status and OpenAI type a client sees.
const TABLE: Array<[SluiceErrorCode, number, string]> = [
  ['model_not_found', 404, 'invalid_request_error'],
  ['model_lists_pending', 503, 'server_error'],
  ['invalid_json', 400, 'invalid_request_error'],
  ['body_too_large', 413, 'invalid_request_error'],
  ['no_routable_endpoint', 503, 'server_error'],
  ['endpoints_busy', 503, 'server_error'],
  ['upstream_unreachable', 502, 'server_error'],
  ['upstream_timeout', 504, 'server_error'],
  ['upstream_error', 502, 'server_error'],
  ['internal_error', 500, 'server_error'],
  ['invalid_api_key', 401, 'invalid_request_error'],
  ['unauthorized', 401, 'invalid_request_error'],
  ['forbidden', 403, 'invalid_request_error'],
  ['rate_limit_exceeded', 429, 'requests'],
];

describe('errors as clients see them', () => {
  it.each(TABLE)('%s -> %i, OpenAI type %s, Ollama string', (code, status, type) => {
    const err = new SluiceError(code, `message for ${code}`);
    expect(err.status).toBe(status);
    expect(errorBody(err, 'openai')).toEqual({ error: { message: `message for ${code}`, type, param: code === 'model_not_found' ? 'model' : null, code } });
    expect(errorBody(err, 'ollama')).toEqual({ error: `message for ${code}` });
  });
});
