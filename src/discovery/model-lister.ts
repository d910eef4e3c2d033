import { describeFetchError, joinUrl, JsonTooDeepError, parseJsonShallow, readTextCapped } from '../endpoints/index.js';

/** Reads the model names an endpoint serves from its models path. */
export interface ModelListerTarget {
  readonly name: string;
  readonly baseUrl: URL;
  readonly modelsPath: string;
  /** Full Authorization header value (Bearer token or Basic from URL credentials). */
  readonly authorization?: string;
}

export class DiscoveryError extends Error {
  readonly code = 'DISCOVERY_FAILED';
}

/** The longest model name taken, in characters: each name becomes a metric label value. */
export const MAX_NAME_CHARS = 256;
/** Control characters, which no model name has and no label or log line should carry. */
const CONTROL = /[\u0000-\u001f\u007f]/;

/** A parsed model list: the names taken, and how many were left out (unusable names, or past the limit). */
export interface ModelList {
  readonly models: string[];
  readonly dropped: number;
}

/**
 * Fetches and parses a model list. Understands Ollama's `/api/tags` (`models[].name`) and the
 * OpenAI-style `/v1/models` used by vLLM, LM Studio, llama.cpp and others (`data[].id`). Takes at
 * most `maxModels` names (`discovery.max_models`): each is a metric label value, and a backend
 * must not be able to mint series without bound.
 */
export async function listModels(target: ModelListerTarget, timeoutMs: number, maxModels: number): Promise<ModelList> {
  const url = joinUrl(target.baseUrl, target.modelsPath);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (target.authorization) headers.authorization = target.authorization;
  let res: Response;
  try {
    res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    throw new DiscoveryError(`GET ${target.modelsPath}: ${describeFetchError(err)}`);
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new DiscoveryError(`GET ${target.modelsPath}: HTTP ${res.status}`);
  }
  let text: string;
  try {
    text = await readTextCapped(res);
  } catch (err) {
    // A body the timeout cut off is a timeout.
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new DiscoveryError(`GET ${target.modelsPath}: ${timedOut ? `no complete answer within ${timeoutMs}ms` : describeFetchError(err)}`);
  }
  let body: unknown;
  try {
    body = parseJsonShallow(text);
  } catch (err) {
    const detail = err instanceof JsonTooDeepError ? err.message : 'response is not JSON';
    throw new DiscoveryError(`GET ${target.modelsPath}: ${detail}`);
  }
  return parseModelList(body, maxModels);
}

/**
 * Extracts model names from either list shape, without empty names or repeats; anything else is
 * an error. So is a list with entries of which none has a name: taken as an empty list, it would
 * replace the endpoint's last good one. Names longer than MAX_NAME_CHARS or with control
 * characters are left out, and so are those past the first `maxModels`.
 */
export function parseModelList(body: unknown, maxModels: number): ModelList {
  let entries: unknown[];
  let names: string[];
  if (isRecord(body) && Array.isArray(body.models)) {
    entries = body.models;
    names = entries.flatMap((m) => (isRecord(m) && typeof m.name === 'string' ? [m.name] : isRecord(m) && typeof m.model === 'string' ? [m.model] : []));
  } else if (isRecord(body) && Array.isArray(body.data)) {
    entries = body.data;
    names = entries.flatMap((m) => (isRecord(m) && typeof m.id === 'string' ? [m.id] : []));
  } else {
    throw new DiscoveryError('model list has neither "models" (Ollama) nor "data" (OpenAI)');
  }
  const unique = [...new Set(names.filter((n) => n.trim() !== ''))];
  if (entries.length > 0 && unique.length === 0) throw new DiscoveryError(`model list has ${entries.length} entries and no model name among them`);
  const usable = unique.filter((n) => n.length <= MAX_NAME_CHARS && !CONTROL.test(n));
  const models = usable.length > maxModels ? usable.slice(0, maxModels) : usable;
  return { models, dropped: unique.length - models.length };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
