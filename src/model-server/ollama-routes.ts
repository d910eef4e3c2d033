import { embedText } from './embeddings.js';
import { sendJson } from './http-io.js';
import { handleOllamaChat, handleOllamaGenerate } from './ollama-generation.js';
import { ollamaModelInfo } from './ollama-models.js';
import { badRequest, embeddingInputs, requireModel } from './request-model.js';
import { modelListGate, type RequestContext, type Route } from './routes.js';
import { countTokens } from './tokenize.js';

/** Reported by /api/version. */
const SAMPLE_VERSION = '0.1.0';
/** Loaded models never unload, so /api/ps reports an expiry far away. */
const NEVER_EXPIRES = '2099-01-01T00:00:00.000Z';

async function listTags(ctx: RequestContext): Promise<void> {
  const { res, app } = ctx;
  if (!(await modelListGate(ctx, 'ollama'))) return;
  const modifiedAt = new Date(app.startedAt).toISOString();
  sendJson(res, 200, { models: app.models.map((name) => ({ ...ollamaModelInfo(name), modified_at: modifiedAt })), server_id: app.serverId });
}

/** The models in memory: every served one, or with the simulated engine those resident now (most recently used first). */
function listRunning({ res, app }: RequestContext): void {
  const names = app.fleet ? app.fleet.resident().map((model) => model.name) : app.models;
  sendJson(res, 200, {
    models: names.map((name) => {
      const info = ollamaModelInfo(name);
      return { ...info, expires_at: NEVER_EXPIRES, size_vram: app.fleet ? info.size : 0 };
    }),
    server_id: app.serverId,
  });
}

function embed(ctx: RequestContext): void {
  const started = process.hrtime.bigint();
  const model = requireModel(ctx, 'ollama');
  if (model === undefined) return;
  const inputs = embeddingInputs(ctx.body?.input);
  if (!inputs) return badRequest(ctx, 'ollama', 'input must be a string or a non-empty array of strings');
  const embeddings = inputs.map((text) => embedText(text));
  sendJson(ctx.res, 200, {
    model,
    embeddings,
    total_duration: Number(process.hrtime.bigint() - started),
    load_duration: 0,
    prompt_eval_count: inputs.reduce((sum, text) => sum + countTokens(text), 0),
    server_id: ctx.app.serverId,
  });
}

/** The older single-text endpoint, still used by some clients. */
function legacyEmbeddings(ctx: RequestContext): void {
  const model = requireModel(ctx, 'ollama');
  if (model === undefined) return;
  const prompt = ctx.body?.prompt;
  if (typeof prompt !== 'string') return badRequest(ctx, 'ollama', 'prompt must be a string');
  sendJson(ctx.res, 200, { embedding: embedText(prompt), server_id: ctx.app.serverId });
}

/** The Ollama-compatible API under /api (GET / lives with the core routes). */
export const ollamaRoutes: readonly Route[] = [
  { method: 'GET', path: '/api/version', family: 'ollama', kind: 'service', handle: ({ res }) => sendJson(res, 200, { version: SAMPLE_VERSION }) },
  { method: 'GET', path: '/api/tags', family: 'ollama', kind: 'api', handle: listTags },
  { method: 'GET', path: '/api/ps', family: 'ollama', kind: 'api', handle: listRunning },
  { method: 'POST', path: '/api/chat', family: 'ollama', kind: 'api', handle: handleOllamaChat },
  { method: 'POST', path: '/api/generate', family: 'ollama', kind: 'api', handle: handleOllamaGenerate },
  { method: 'POST', path: '/api/embed', family: 'ollama', kind: 'api', handle: embed },
  { method: 'POST', path: '/api/embeddings', family: 'ollama', kind: 'api', handle: legacyEmbeddings },
];
