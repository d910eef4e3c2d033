import { describe, expect, it } from 'vitest';
import { apiFlavour, errorBody, SluiceError, type SluiceErrorCode } from '../../../src/proxy/errors.js';

// Every error Sluice answers itself, with the status and the OpenAI and Anthropic types a client sees.
const TABLE: Array<[SluiceErrorCode, number, string, string]> = [
  ['model_not_found', 404, 'invalid_request_error', 'not_found_error'],
  ['model_lists_pending', 503, 'server_error', 'overloaded_error'],
  ['invalid_json', 400, 'invalid_request_error', 'invalid_request_error'],
  ['body_too_large', 413, 'invalid_request_error', 'request_too_large'],
  ['no_routable_endpoint', 503, 'server_error', 'overloaded_error'],
  ['endpoints_busy', 503, 'server_error', 'overloaded_error'],
  ['upstream_unreachable', 502, 'server_error', 'api_error'],
  ['upstream_timeout', 504, 'server_error', 'api_error'],
  ['upstream_error', 502, 'server_error', 'api_error'],
  ['internal_error', 500, 'server_error', 'api_error'],
  ['invalid_api_key', 401, 'invalid_request_error', 'authentication_error'],
  ['unauthorized', 401, 'invalid_request_error', 'authentication_error'],
  ['forbidden', 403, 'invalid_request_error', 'permission_error'],
  ['rate_limit_exceeded', 429, 'requests', 'rate_limit_error'],
];

describe('errors as clients see them', () => {
  it.each(TABLE)('%s -> %i, OpenAI type %s, Anthropic type %s, Ollama string', (code, status, type, anthropic) => {
    const err = new SluiceError(code, `message for ${code}`);
    expect(err.status).toBe(status);
    expect(errorBody(err, 'openai')).toEqual({ error: { message: `message for ${code}`, type, param: code === 'model_not_found' ? 'model' : null, code } });
    expect(errorBody(err, 'ollama')).toEqual({ error: `message for ${code}` });
    expect(errorBody(err, 'anthropic')).toEqual({ type: 'error', error: { type: anthropic, message: `message for ${code}` } });
  });

  it('each path gets its API shape: Ollama under /api/, Anthropic on /v1/messages and under it, OpenAI elsewhere', () => {
    expect(apiFlavour('/api/chat')).toBe('ollama');
    expect(apiFlavour('/v1/messages')).toBe('anthropic');
    expect(apiFlavour('/v1/messages?beta=true')).toBe('anthropic');
    expect(apiFlavour('/v1/messages/count_tokens')).toBe('anthropic');
    expect(apiFlavour('/v1/messagesx')).toBe('openai');
    expect(apiFlavour('/v1/chat/completions')).toBe('openai');
  });
});
