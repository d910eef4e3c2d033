import type { ServerResponse } from 'node:http';
import type { CompletionPlan } from './generation.js';
import { sleep } from './http-io.js';
import type { RequestContext } from './routes.js';
import type { GenerationResult } from './token-source.js';

/** Starts a chunked 200 response and sends the headers at once, so clients see the stream open. */
export function openStream(res: ServerResponse, contentType: string): void {
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
}

export function writeSseEvent(res: ServerResponse, data: unknown): void {
  res.write(`data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
}

export function writeNdjsonLine(res: ServerResponse, data: unknown): void {
  res.write(`${JSON.stringify(data)}\n`);
}

/**
 * Produces `plan`'s tokens in time through the app's token source, calling `onPiece` for each as it
 * comes, after the `stall` fault's extra wait if one is active. Resolves when the generation ends,
 * or early (completed: false) when the client leaves.
 */
export async function generateInTime(ctx: RequestContext, model: string, prompt: string, plan: CompletionPlan, onPiece: (piece: string, index: number) => void): Promise<GenerationResult> {
  if (ctx.firstTokenStallMs > 0 && !(await sleep(ctx.firstTokenStallMs, ctx.signal))) return { completed: false };
  return ctx.app.tokens.generate({ model, prompt, outputTokens: plan.pieces.length, signal: ctx.signal, onToken: (index) => onPiece(plan.pieces[index]!, index) });
}
