import { chatPrompt, planCompletion, readMaxTokens, type CompletionPlan } from './generation.js';
import { sendJson } from './http-io.js';
import type { LoadedModels } from './model-loader.js';
import { badRequest, requireModel } from './request-model.js';
import type { RequestContext } from './routes.js';
import { generateInTime, openStream, writeNdjsonLine } from './streaming.js';
import type { GenerationResult } from './token-source.js';

/** The differences between /api/chat and /api/generate. */
interface OllamaShape {
  /** The per-token field(s): `message` for chat, `response` for generate. */
  piece(text: string): Record<string, unknown>;
}

const CHAT_SHAPE: OllamaShape = { piece: (text) => ({ message: { role: 'assistant', content: text } }) };
const GENERATE_SHAPE: OllamaShape = { piece: (text) => ({ response: text }) };

function nanosecondsSince(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

/** `options.num_predict` bounds the output; negative values mean "as much as allowed". */
function numPredict(ctx: RequestContext): ReturnType<typeof readMaxTokens> {
  const options = ctx.body?.options;
  const value = typeof options === 'object' && options !== null ? (options as { num_predict?: unknown }).num_predict : undefined;
  return readMaxTokens(value, 'options.num_predict', true);
}

async function respond(ctx: RequestContext, shape: OllamaShape, model: string, prompt: string, plan: CompletionPlan, requestStart: bigint): Promise<void> {
  const { res, app, body } = ctx;
  const refusal = app.tokens.refusal(model, prompt, plan.completionTokens);
  if (refusal) return badRequest(ctx, 'ollama', refusal);
  const header = () => ({ model, created_at: new Date(app.now()).toISOString() });
  let firstTokenAt: bigint | undefined;
  const onPiece = () => {
    firstTokenAt ??= process.hrtime.bigint();
  };
  // Ollama's durations, in nanoseconds: the load, then prompt evaluation up to the first token, then the rest.
  const finalStats = (result: Extract<GenerationResult, { completed: true }>) => {
    const totalDuration = nanosecondsSince(requestStart);
    const loadDuration = Math.round(result.loadMs * 1e6);
    const evalDuration = firstTokenAt === undefined ? 0 : Number(process.hrtime.bigint() - firstTokenAt);
    return {
      done: true,
      done_reason: plan.finishReason,
      total_duration: totalDuration,
      load_duration: loadDuration,
      prompt_eval_count: result.promptTokens,
      prompt_eval_duration: Math.max(0, totalDuration - loadDuration - evalDuration),
      eval_count: plan.completionTokens,
      eval_duration: evalDuration,
      server_id: app.serverId,
    };
  };
  // Ollama streams unless the request says `"stream": false`.
  if (body?.stream === false) {
    const result = await generateInTime(ctx, model, prompt, plan, onPiece);
    if (!result.completed) return;
    sendJson(res, 200, { ...header(), ...shape.piece(plan.text), ...finalStats(result) });
    return;
  }
  openStream(res, 'application/x-ndjson');
  const result = await generateInTime(ctx, model, prompt, plan, (piece) => {
    onPiece();
    writeNdjsonLine(res, { ...header(), ...shape.piece(piece), done: false, server_id: app.serverId });
  });
  if (!result.completed) return;
  writeNdjsonLine(res, { ...header(), ...shape.piece(''), ...finalStats(result) });
  res.end();
}

/** POST /api/chat */
export async function handleOllamaChat(ctx: RequestContext, models: LoadedModels): Promise<void> {
  const requestStart = process.hrtime.bigint();
  const model = requireModel(ctx, 'ollama');
  if (model === undefined) return;
  const prompt = chatPrompt(ctx.body?.messages);
  if (!prompt.ok) return badRequest(ctx, 'ollama', prompt.message);
  const limit = numPredict(ctx);
  if (!limit.ok) return badRequest(ctx, 'ollama', limit.message);
  await respond(ctx, CHAT_SHAPE, model, prompt.prompt, planCompletion(models.generator, model, prompt.prompt, limit.maxTokens), requestStart);
}

/** POST /api/generate. Like Ollama, an empty prompt only "loads" the model and returns at once. */
export async function handleOllamaGenerate(ctx: RequestContext, models: LoadedModels): Promise<void> {
  const requestStart = process.hrtime.bigint();
  const model = requireModel(ctx, 'ollama');
  if (model === undefined) return;
  const { prompt = '', system } = ctx.body ?? {};
  if (typeof prompt !== 'string') return badRequest(ctx, 'ollama', 'prompt must be a string');
  if (system !== undefined && typeof system !== 'string') return badRequest(ctx, 'ollama', 'system must be a string');
  if (prompt === '') {
    sendJson(ctx.res, 200, { model, created_at: new Date(ctx.app.now()).toISOString(), response: '', done: true, done_reason: 'load', server_id: ctx.app.serverId });
    return;
  }
  const limit = numPredict(ctx);
  if (!limit.ok) return badRequest(ctx, 'ollama', limit.message);
  const fullPrompt = system ? `${system}\n${prompt}` : prompt;
  await respond(ctx, GENERATE_SHAPE, model, fullPrompt, planCompletion(models.generator, model, fullPrompt, limit.maxTokens), requestStart);
}
