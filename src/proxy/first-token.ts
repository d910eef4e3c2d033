import type { IncomingHttpHeaders } from 'node:http';
import { API, isApi } from './api-paths.js';
import { isEncoded, isStreamed } from './token-timing.js';

/** Ollama's generation paths, which stream unless the body says `"stream": false`. */
const OLLAMA_STREAMING = [API.ollamaChat, API.ollamaGenerate];

/**
 * Whether a request asks for a streamed answer (SSE or Ollama NDJSON): a POST (every generation
 * is one) with `"stream": true` in its JSON body, or an Ollama generation that does not say
 * `"stream": false`. A HEAD or GET to the same path generates nothing.
 */
export function asksForStream(method: string | undefined, path: string, json: unknown): boolean {
  if (method !== 'POST') return false;
  const flag = typeof json === 'object' && json !== null && !Array.isArray(json) ? (json as { stream?: unknown }).stream : undefined;
  if (OLLAMA_STREAMING.some((p) => isApi(path, p))) return flag !== false;
  return flag === true;
}

/**
 * The first-token deadline of a request on an endpoint, in ms: the endpoint's own, else
 * `proxy.first_token_timeout`; none for a request that does not ask for a stream.
 */
export function firstTokenLimit(streamRequested: boolean, proxyLimitMs: number | null, endpointLimitMs: number | null): number | undefined {
  if (!streamRequested) return undefined;
  return endpointLimitMs ?? proxyLimitMs ?? undefined;
}

/** One attempt's first-token deadline: it runs from the attempt's start, across its response headers. */
export class FirstTokenDeadline {
  readonly limitMs: number;
  readonly #endsAt: number;
  readonly #now: () => number;

  constructor(limitMs: number, now: () => number) {
    this.limitMs = limitMs;
    this.#now = now;
    this.#endsAt = now() + limitMs;
  }

  /** Milliseconds left for the first token; 0 once the deadline has passed. */
  remainingMs(): number {
    return Math.max(0, this.#endsAt - this.#now());
  }

  /**
   * How long the response head may be held back for the first token: what is left of the
   * deadline when the response is a stream; undefined (send the head at once) for anything else,
   * such as a JSON error.
   */
  holdMs(headers: IncomingHttpHeaders): number | undefined {
    // A compressed stream's first token cannot be seen: holding it would cut a healthy stream.
    return isStreamed(headers) && !isEncoded(headers) ? this.remainingMs() : undefined;
  }
}
