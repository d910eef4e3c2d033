import type { ServerResponse } from 'node:http';
import { sleep } from './http-io.js';

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
 * Emits `pieces` one at a time, `delayMs` apart (the first after one delay, as a model computes it).
 * Stops at once when `signal` fires, leaving no timer behind; resolves to false in that case.
 */
export async function emitPaced(pieces: readonly string[], delayMs: number, signal: AbortSignal, emit: (piece: string, index: number) => void): Promise<boolean> {
  for (const [index, piece] of pieces.entries()) {
    if (!(await sleep(delayMs, signal))) return false;
    emit(piece, index);
  }
  return true;
}

/** The time a non-streamed generation of `tokens` tokens takes; false if the client left meanwhile. */
export function simulateGeneration(tokens: number, delayMs: number, signal: AbortSignal): Promise<boolean> {
  return sleep(tokens * delayMs, signal);
}
