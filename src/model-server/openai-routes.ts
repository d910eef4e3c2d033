import { EMBEDDING_DIMENSIONS, embedText, toBase64Float32 } from './embeddings.js';
import { sendJson } from './http-io.js';
import { handleChatCompletions, handleCompletions } from './openai-generation.js';
import { badRequest, embeddingInputs, requireModel } from './request-model.js';
import { modelListGate, type RequestContext, type Route } from './routes.js';
import { countTokens } from './tokenize.js';

/** Largest `dimensions` an embeddings request may ask for. */
const MAX_EMBEDDING_DIMENSIONS = 1024;

async function listModels(ctx: RequestContext): Promise<void> {
  const { res, app } = ctx;
  if (!(await modelListGate(ctx, 'openai'))) return;
  const created = Math.floor(app.startedAt / 1000);
  sendJson(res, 200, {
    object: 'list',
    data: app.models.map((id) => ({ id, object: 'model', created, owned_by: 'sluice-sample' })),
    server_id: app.serverId,
  });
}

function createEmbeddings(ctx: RequestContext): void {
  const model = requireModel(ctx, 'openai');
  if (model === undefined) return;
  const inputs = embeddingInputs(ctx.body?.input);
  if (!inputs) return badRequest(ctx, 'openai', 'input must be a string or a non-empty array of strings', 'input');
  const format = ctx.body?.encoding_format ?? 'float';
  if (format !== 'float' && format !== 'base64') return badRequest(ctx, 'openai', 'encoding_format must be "float" or "base64"', 'encoding_format');
  const dimensions = ctx.body?.dimensions ?? EMBEDDING_DIMENSIONS;
  if (typeof dimensions !== 'number' || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > MAX_EMBEDDING_DIMENSIONS) {
    return badRequest(ctx, 'openai', `dimensions must be an integer from 1 to ${MAX_EMBEDDING_DIMENSIONS}`, 'dimensions');
  }
  const promptTokens = inputs.reduce((sum, text) => sum + countTokens(text), 0);
  sendJson(ctx.res, 200, {
    object: 'list',
    data: inputs.map((text, index) => {
      const vector = embedText(text, dimensions);
      return { object: 'embedding', index, embedding: format === 'base64' ? toBase64Float32(vector) : vector };
    }),
    model,
    usage: { prompt_tokens: promptTokens, total_tokens: promptTokens },
    server_id: ctx.app.serverId,
  });
}

/** The OpenAI-compatible API under /v1. */
export const openAiRoutes: readonly Route[] = [
  { method: 'GET', path: '/v1/models', family: 'openai', kind: 'api', handle: listModels },
  { method: 'POST', path: '/v1/chat/completions', family: 'openai', kind: 'api', handle: handleChatCompletions },
  { method: 'POST', path: '/v1/completions', family: 'openai', kind: 'api', handle: handleCompletions },
  { method: 'POST', path: '/v1/embeddings', family: 'openai', kind: 'api', handle: createEmbeddings },
];
