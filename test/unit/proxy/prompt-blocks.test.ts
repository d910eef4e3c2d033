import { describe, expect, it } from 'vitest';
import { promptBlocks, promptText } from '../../../src/proxy/prompt-blocks.js';

const options = { blockChars: 32, maxBlocks: 8 };
const system = 'You are the support assistant of ACME. Answer briefly and cite the manual.';

describe('prompt blocks', () => {
  it('gives a conversation and its next turn equal leading hashes (system prompt and earlier turns included)', () => {
    const turn1 = [{ role: 'system', content: system }, { role: 'user', content: 'My printer shows error 41, what now?' }];
    const turn2 = [...turn1, { role: 'assistant', content: 'Open the tray and remove the jammed sheet.' }, { role: 'user', content: 'Done, still 41.' }];
    const first = promptBlocks({ messages: turn1 }, 'llama', options)!;
    const second = promptBlocks({ messages: turn2 }, 'llama', options)!;
    expect(first.blocks.length).toBeGreaterThan(2);
    expect(second.blocks.slice(0, first.blocks.length)).toEqual(first.blocks);
    expect(second.blocks.length).toBeGreaterThan(first.blocks.length);
  });

  it('shares the system prompt’s blocks across users, and differs after it', () => {
    const alice = promptBlocks({ messages: [{ role: 'system', content: system }, { role: 'user', content: 'Alice here: how do I reset it?' }] }, 'llama', options)!;
    const bob = promptBlocks({ messages: [{ role: 'system', content: system }, { role: 'user', content: 'Bob asks: is the warranty two years?' }] }, 'llama', options)!;
    expect(alice.blocks[0]).toBe(bob.blocks[0]);
    expect(alice.blocks[alice.blocks.length - 1]).not.toBe(bob.blocks[bob.blocks.length - 1]);
  });

  it('chains: an equal block after a different one hashes differently, and the model seeds the chain', () => {
    const a = promptBlocks({ prompt: `${'x'.repeat(32)}${'y'.repeat(32)}` }, 'm', options)!;
    const b = promptBlocks({ prompt: `${'z'.repeat(32)}${'y'.repeat(32)}` }, 'm', options)!;
    expect(a.blocks[1]).not.toBe(b.blocks[1]);
    expect(promptBlocks({ prompt: 'x'.repeat(64) }, 'other', options)!.blocks[0]).not.toBe(a.blocks[0]);
  });

  it("reads the Anthropic Messages API's system prompt first, as a string or as text blocks, and shares it across conversations", () => {
    const messages = [{ role: 'user', content: [{ type: 'text', text: 'Fix the failing test.' }] }];
    expect(promptText({ model: 'm', system, messages })).toBe(`system\u0000${system}\u0001user\u0000Fix the failing test.\u0001`);
    expect(promptText({ model: 'm', system: [{ type: 'text', text: system, cache_control: { type: 'ephemeral' } }], messages })).toBe(promptText({ model: 'm', system, messages }));
    // The same system prompt as a message of an OpenAI body reads the same.
    expect(promptText({ messages: [{ role: 'system', content: system }, ...messages] })).toBe(promptText({ system, messages }));
    const one = promptBlocks({ system, messages }, 'm', options)!;
    const other = promptBlocks({ system, messages: [{ role: 'user', content: 'Explain this stack trace.' }] }, 'm', options)!;
    expect(one.blocks[0]).toBe(other.blocks[0]);
    expect(one.blocks[0]).not.toBe(promptBlocks({ messages }, 'm', options)!.blocks[0]);
  });

  it("reads the Responses API's instructions and input on its path, and nothing of an embeddings body's input", () => {
    expect(promptText({ model: 'm', instructions: system, input: 'Where is my order?' }, '/v1/responses')).toBe(promptText({ messages: [{ role: 'system', content: system }, { role: 'user', content: 'Where is my order?' }] }));
    const items = [{ role: 'user', content: [{ type: 'input_text', text: 'a' }] }, { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'b' }] }, { type: 'function_call_output', call_id: 'c1', output: 'c' }];
    expect(promptText({ input: items }, '/v1/responses?x=1')).toBe('user\u0000a\u0001assistant\u0000b\u0001\u0000c\u0001');
    expect(promptText({ instructions: 'S' }, '/v1/responses')).toBe('system\u0000S\u0001');
    expect(promptText({ previous_response_id: 'resp_1' }, '/v1/responses')).toBeUndefined();
    expect(promptText({ input: 'embed me' }, '/v1/embeddings')).toBeUndefined();
    // A token count prefills nothing: no prompt to route by.
    expect(promptText({ input: 'count me' }, '/v1/responses/input_tokens')).toBeUndefined();
    expect(promptText({ system, messages: [{ role: 'user', content: 'count me' }] }, '/v1/messages/count_tokens')).toBeUndefined();
  });

  it('reads Ollama /api/generate (system + prompt) and /api/chat, and OpenAI completions', () => {
    expect(promptText({ model: 'm', system: 'S', prompt: 'P' })).toBe('system\u0000S\u0001P');
    expect(promptText({ model: 'm', prompt: 'P' })).toBe('P');
    expect(promptText({ prompt: ['first', 'second'] })).toBe('first');
    expect(promptText({ messages: [{ role: 'user', content: [{ type: 'text', text: 'a' }, { type: 'image_url', image_url: {} }, { type: 'text', text: 'b' }] }] })).toBe('user\u0000ab\u0001');
    expect(promptText({ input: 'embed me' })).toBeUndefined();
    expect(promptText('text')).toBeUndefined();
  });

  it('hashes whole blocks up to max_blocks, a short prompt as one block, and estimates tokens from all of it', () => {
    const long = promptBlocks({ prompt: 'a'.repeat(1000) }, undefined, options)!;
    expect(long.blocks).toHaveLength(8);
    expect(long.tokens).toBe(250);
    const short = promptBlocks({ prompt: 'hi' }, undefined, options)!;
    expect(short.blocks).toHaveLength(1);
    expect(short.tokens).toBe(1);
    expect(promptBlocks({ prompt: 'b'.repeat(70) }, undefined, options)!.blocks).toHaveLength(2);
    expect(promptBlocks({ messages: [] }, undefined, options)).toBeUndefined();
  });

  it('hash values are exact integers below 2^53 and the same every time', () => {
    const one = promptBlocks({ prompt: 'q'.repeat(200) }, 'm', options)!;
    const two = promptBlocks({ prompt: 'q'.repeat(200) }, 'm', options)!;
    expect(one.blocks).toEqual(two.blocks);
    for (const block of one.blocks) expect(Number.isSafeInteger(block) && block >= 0).toBe(true);
  });
});
