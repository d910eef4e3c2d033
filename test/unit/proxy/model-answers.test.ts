import { describe, expect, it } from 'vitest';
import type { ModelCatalog } from '../../../src/discovery/index.js';
import { errorBody } from '../../../src/proxy/errors.js';
import { ModelAnswers, type ModelAnswersDeps } from '../../../src/proxy/model-answers.js';

/** Answers over a catalog in which every endpoint has listed its models (or, with `unlisted`, one has not). */
function answers(unlisted = 0): ModelAnswers {
  const endpoints = [{ name: 'a' }, { name: 'b' }];
  const catalog = { notYetListed: () => endpoints.slice(0, unlisted), routableModels: () => [] } as unknown as ModelCatalog;
  return new ModelAnswers({ config: { discovery: { interval: 30_000 } }, endpoints, catalog, retryAfterSeconds: () => 1 } as unknown as ModelAnswersDeps);
}

describe('the answer about a model nobody serves', () => {
  it('names the model as the client wrote it', () => {
    const err = answers().unknownModel('llama9:70b', 'openai');
    expect(err.code).toBe('model_not_found');
    expect(err.message).toContain("'llama9:70b'");
    expect(answers().unknownModel('llama9:70b', 'ollama').message).toBe("model 'llama9:70b' not found");
  });

  it('quotes at most 256 characters of a longer name: a client cannot make the error as large as the body limit', () => {
    const name = `${'x'.repeat(300)}${'y'.repeat(1_000_000)}`;
    for (const [unlisted, flavour] of [[0, 'openai'], [0, 'ollama'], [1, 'openai'], [1, 'ollama']] as const) {
      const err = answers(unlisted).unknownModel(name, flavour);
      expect(err.status, `${unlisted} ${flavour}`).toBe(unlisted ? 503 : 404);
      expect(JSON.stringify(errorBody(err, flavour)).length, `${unlisted} ${flavour}`).toBeLessThan(600);
      expect(err.message).toContain(`${'x'.repeat(256)}... (1000300 characters)`);
      expect(err.message).not.toContain('xy');
    }
  });
});
