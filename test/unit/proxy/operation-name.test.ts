import { describe, expect, it } from 'vitest';
import { operationName } from '../../../src/proxy/request-state.js';

describe('operationName (GenAI semantic conventions)', () => {
  it('names chat for OpenAI chat, Ollama chat and the Anthropic Messages API, and nothing under the latter', () => {
    for (const path of ['/v1/chat/completions', '/api/chat', '/v1/messages', '/v1/messages?beta=true']) expect(operationName(path), path).toBe('chat');
    expect(operationName('/v1/messages/count_tokens')).toBe('proxy');
    expect(operationName('/v1/completions')).toBe('text_completion');
    expect(operationName('/api/embed')).toBe('embeddings');
  });
});
