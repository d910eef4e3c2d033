import { randomUUID } from 'node:crypto';
import { sendJson } from './http-io.js';
import { chatPrompt, planCompletion, readMaxTokens, type CompletionPlan } from './generation.js';
import type { LoadedModels } from './model-loader.js';
import { badRequest, requireModel } from './request-model.js';
import { unixSeconds, type RequestContext } from './routes.js';
import { generateInTime, openStream, writeSseEvent } from './streaming.js';

/** Identifies this build of the sample "model" in OpenAI's system_fingerprint field. */
const SYSTEM_FINGERPRINT = 'fp_sluice_sample';

/** The differences between /v1/chat/completions and /v1/completions. */
interface OpenAiShape {
  readonly idPrefix: string;
  readonly object: string;
  readonly chunkObject: string;
  /** A streamed choice carrying one token; `index` is the token's position. */
  streamedChoice(piece: string, index: number): Record<string, unknown>;
  /** The streamed choice that closes the output. */
  finalStreamedChoice(finishReason: string): Record<string, unknown>;
  completeChoice(plan: CompletionPlan): Record<string, unknown>;
}

const CHAT_SHAPE: OpenAiShape = {
  idPrefix: 'chatcmpl-',
  object: 'chat.completion',
  chunkObject: 'chat.completion.chunk',
  streamedChoice: (piece, index) => ({ index: 0, delta: index === 0 ? { role: 'assistant', content: piece } : { content: piece }, logprobs: null, finish_reason: null }),
  finalStreamedChoice: (finishReason) => ({ index: 0, delta: {}, logprobs: null, finish_reason: finishReason }),
  completeChoice: (plan) => ({ index: 0, message: { role: 'assistant', content: plan.text, refusal: null }, logprobs: null, finish_reason: plan.finishReason }),
};

const COMPLETION_SHAPE: OpenAiShape = {
  idPrefix: 'cmpl-',
  object: 'text_completion',
  chunkObject: 'text_completion',
  streamedChoice: (piece) => ({ index: 0, text: piece, logprobs: null, finish_reason: null }),
  finalStreamedChoice: (finishReason) => ({ index: 0, text: '', logprobs: null, finish_reason: finishReason }),
  completeChoice: (plan) => ({ index: 0, text: plan.text, logprobs: null, finish_reason: plan.finishReason }),
};

/** Token counts as the token source counted the prompt, and the tokens actually generated. */
function usageOf(promptTokens: number, plan: CompletionPlan): Record<string, number> {
  return { prompt_tokens: promptTokens, completion_tokens: plan.completionTokens, total_tokens: promptTokens + plan.completionTokens };
}

async function respond(ctx: RequestContext, shape: OpenAiShape, model: string, prompt: string, plan: CompletionPlan): Promise<void> {
  const { res, app, body } = ctx;
  const refusal = app.tokens.refusal(model, prompt, plan.completionTokens);
  if (refusal) return badRequest(ctx, 'openai', refusal, 'messages');
  const header = { id: `${shape.idPrefix}${randomUUID().replaceAll('-', '')}`, created: unixSeconds(app), model, system_fingerprint: SYSTEM_FINGERPRINT, server_id: app.serverId };
  if (body?.stream !== true) {
    const result = await generateInTime(ctx, model, prompt, plan, () => undefined);
    if (!result.completed) return;
    sendJson(res, 200, { ...header, object: shape.object, choices: [shape.completeChoice(plan)], usage: usageOf(result.promptTokens, plan) });
    return;
  }
  const streamOptions = body.stream_options;
  const includeUsage = typeof streamOptions === 'object' && streamOptions !== null && (streamOptions as { include_usage?: unknown }).include_usage === true;
  // As OpenAI does: with include_usage every chunk has `usage: null` and a last chunk carries the totals.
  const usageField = includeUsage ? { usage: null } : {};
  const chunk = (choices: unknown[]) => ({ ...header, object: shape.chunkObject, choices, ...usageField });
  openStream(res, 'text/event-stream');
  const result = await generateInTime(ctx, model, prompt, plan, (piece, index) => writeSseEvent(res, chunk([shape.streamedChoice(piece, index)])));
  if (!result.completed) return;
  writeSseEvent(res, chunk([shape.finalStreamedChoice(plan.finishReason)]));
  if (includeUsage) writeSseEvent(res, { ...chunk([]), usage: usageOf(result.promptTokens, plan) });
  writeSseEvent(res, '[DONE]');
  res.end();
}

/** POST /v1/chat/completions */
export async function handleChatCompletions(ctx: RequestContext, models: LoadedModels): Promise<void> {
  const model = requireModel(ctx, 'openai');
  if (model === undefined) return;
  const prompt = chatPrompt(ctx.body?.messages);
  if (!prompt.ok) return badRequest(ctx, 'openai', prompt.message, 'messages');
  const field = ctx.body?.max_completion_tokens !== undefined ? 'max_completion_tokens' : 'max_tokens';
  const limit = readMaxTokens(ctx.body?.[field], field);
  if (!limit.ok) return badRequest(ctx, 'openai', limit.message, field);
  await respond(ctx, CHAT_SHAPE, model, prompt.prompt, planCompletion(models.generator, model, prompt.prompt, limit.maxTokens));
}

/** POST /v1/completions. An array of prompts is answered as one prompt, its parts joined by newlines. */
export async function handleCompletions(ctx: RequestContext, models: LoadedModels): Promise<void> {
  const model = requireModel(ctx, 'openai');
  if (model === undefined) return;
  const rawPrompt = ctx.body?.prompt;
  const prompt = typeof rawPrompt === 'string' ? rawPrompt : Array.isArray(rawPrompt) && rawPrompt.every((p) => typeof p === 'string') ? rawPrompt.join('\n') : undefined;
  if (prompt === undefined) return badRequest(ctx, 'openai', 'prompt must be a string or an array of strings', 'prompt');
  const limit = readMaxTokens(ctx.body?.max_tokens, 'max_tokens');
  if (!limit.ok) return badRequest(ctx, 'openai', limit.message, 'max_tokens');
  await respond(ctx, COMPLETION_SHAPE, model, prompt, planCompletion(models.generator, model, prompt, limit.maxTokens));
}
