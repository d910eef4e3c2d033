import { randomUUID } from 'node:crypto';
import { sendError } from './api-errors.js';
import { planCompletion, readMaxTokens, type CompletionPlan } from './generation.js';
import { sendJson } from './http-io.js';
import type { LoadedModels } from './model-loader.js';
import { badRequest, requireModel } from './request-model.js';
import { unixSeconds, type RequestContext, type Route } from './routes.js';
import { generateInTime, openStream } from './streaming.js';

/** Responses kept at most; the oldest go first. */
const MAX_STORED = 10_000;

interface StoredResponse {
  readonly body: Record<string, unknown>;
  /** Every turn's text up to and including this response's output: the prompt a follow-up continues. */
  readonly conversation: string;
}

/**
 * The responses this server created and stores, in its memory only, as LM Studio and vLLM (with
 * its store on) keep them: a follow-up that names one another server created is a 404 here.
 */
export class ResponseStore {
  readonly #responses = new Map<string, StoredResponse>();

  get(id: string): StoredResponse | undefined {
    return this.#responses.get(id);
  }

  put(id: string, response: StoredResponse): void {
    this.#responses.set(id, response);
    if (this.#responses.size > MAX_STORED) this.#responses.delete(this.#responses.keys().next().value!);
  }

  delete(id: string): boolean {
    return this.#responses.delete(id);
  }
}

/** The text of a Responses API `input`: a string, or messages whose content is a string or parts carrying `text`. */
function inputText(input: unknown): string | undefined {
  if (typeof input === 'string') return input;
  if (!Array.isArray(input) || input.length === 0) return undefined;
  const lines: string[] = [];
  for (const item of input) {
    const content = (item as { content?: unknown } | null)?.content;
    if (typeof content === 'string') lines.push(content);
    else if (Array.isArray(content) && content.every((part) => typeof (part as { text?: unknown } | null)?.text === 'string')) lines.push(content.map((part) => (part as { text: string }).text).join('\n'));
    else return undefined;
  }
  return lines.join('\n');
}

function notFound(ctx: RequestContext, id: string, param: string): void {
  sendError(ctx.res, 'openai', { status: 404, message: `Response with id '${id}' not found.`, code: 'response_not_found', param }, ctx.app.serverId);
}

/** The id of `/v1/responses/{id}` (as sent when it does not decode: no id this server made). */
function pathId(ctx: RequestContext): string {
  const raw = ctx.url.pathname.slice('/v1/responses/'.length);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

interface Created {
  readonly id: string;
  readonly model: string;
  readonly createdAt: number;
  readonly previous: string | null;
  readonly itemId: string;
}

function responseBody(created: Created, status: 'in_progress' | 'completed', plan: CompletionPlan, promptTokens: number, serverId: string): Record<string, unknown> {
  const done = status === 'completed';
  return {
    id: created.id,
    object: 'response',
    created_at: created.createdAt,
    status,
    model: created.model,
    output: done ? [{ id: created.itemId, type: 'message', status: 'completed', role: 'assistant', content: [{ type: 'output_text', text: plan.text, annotations: [] }] }] : [],
    previous_response_id: created.previous,
    usage: done ? { input_tokens: promptTokens, output_tokens: plan.completionTokens, total_tokens: promptTokens + plan.completionTokens } : null,
    server_id: serverId,
  };
}

/** POST /v1/responses: a new response, continuing a stored one when `previous_response_id` names it. */
async function createResponse(ctx: RequestContext, models: LoadedModels): Promise<void> {
  const { res, app, body } = ctx;
  const model = requireModel(ctx, 'openai');
  if (model === undefined) return;
  const input = inputText(body?.input);
  if (input === undefined) return badRequest(ctx, 'openai', 'input must be a string or a non-empty array of messages', 'input');
  const previousId = body?.previous_response_id ?? null;
  if (previousId !== null && typeof previousId !== 'string') return badRequest(ctx, 'openai', 'previous_response_id must be a string', 'previous_response_id');
  const previous = previousId === null ? undefined : app.responses.get(previousId);
  if (previousId !== null && !previous) return notFound(ctx, previousId, 'previous_response_id');
  const limit = readMaxTokens(body?.max_output_tokens, 'max_output_tokens');
  if (!limit.ok) return badRequest(ctx, 'openai', limit.message, 'max_output_tokens');
  const instructions = typeof body?.instructions === 'string' ? body.instructions : '';
  const prompt = [instructions, previous?.conversation ?? '', input].filter((part) => part !== '').join('\n');
  const plan = planCompletion(models.generator, model, prompt, limit.maxTokens);
  const refusal = app.tokens.refusal(model, prompt, plan.completionTokens);
  if (refusal) return badRequest(ctx, 'openai', refusal, 'input');
  const hex = randomUUID().replaceAll('-', '');
  const created: Created = { id: `resp_${hex}`, model, createdAt: unixSeconds(app), previous: previousId, itemId: `msg_${hex}` };
  const store = (promptTokens: number): Record<string, unknown> => {
    const completed = responseBody(created, 'completed', plan, promptTokens, app.serverId);
    if (body?.store !== false) app.responses.put(created.id, { body: completed, conversation: `${prompt}\n${plan.text}` });
    return completed;
  };
  if (body?.stream !== true) {
    const result = await generateInTime(ctx, model, prompt, plan, () => undefined);
    if (result.completed) sendJson(res, 200, store(result.promptTokens));
    return;
  }
  let sequence = 0;
  const event = (type: string, data: Record<string, unknown>) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...data })}\n\n`);
  openStream(res, 'text/event-stream');
  event('response.created', { response: responseBody(created, 'in_progress', plan, 0, app.serverId) });
  const result = await generateInTime(ctx, model, prompt, plan, (piece) => event('response.output_text.delta', { item_id: created.itemId, output_index: 0, content_index: 0, delta: piece }));
  if (!result.completed) return;
  event('response.completed', { response: store(result.promptTokens) });
  res.end();
}

/** GET /v1/responses/{id} */
function retrieveResponse(ctx: RequestContext): void {
  const id = pathId(ctx);
  const stored = ctx.app.responses.get(id);
  if (!stored) return notFound(ctx, id, 'response_id');
  sendJson(ctx.res, 200, stored.body);
}

/** DELETE /v1/responses/{id} */
function deleteResponse(ctx: RequestContext): void {
  const id = pathId(ctx);
  if (!ctx.app.responses.delete(id)) return notFound(ctx, id, 'response_id');
  sendJson(ctx.res, 200, { id, object: 'response', deleted: true, server_id: ctx.app.serverId });
}

/** The Responses API under /v1/responses. */
export const responsesRoutes: readonly Route[] = [
  { method: 'POST', path: '/v1/responses', family: 'openai', kind: 'api', handle: createResponse },
  { method: 'GET', path: '/v1/responses/:id', family: 'openai', kind: 'service', handle: retrieveResponse },
  { method: 'DELETE', path: '/v1/responses/:id', family: 'openai', kind: 'service', handle: deleteResponse },
];
