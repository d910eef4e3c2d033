import { describeFetchError, joinUrl } from '../endpoints/index.js';

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

/**
 * Fetches and parses a model list. Understands Ollama's `/api/tags` (`models[].name`) and the
 * OpenAI-style `/v1/models` used by vLLM, LM Studio, llama.cpp and others (`data[].id`).
 */
export async function listModels(target: ModelListerTarget, timeoutMs: number): Promise<string[]> {
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
  let body: unknown;
  try {
    body = await res.json();
  } catch (err) {
    // A body the timeout cut off is a timeout, not a body that is not JSON.
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    throw new DiscoveryError(`GET ${target.modelsPath}: ${timedOut ? `no complete answer within ${timeoutMs}ms` : 'response is not JSON'}`);
  }
  return parseModelList(body);
}

/**
 * Extracts model names from either list shape, without empty names or repeats; anything else is
 * an error. So is a list with entries of which none has a name: taken as an empty list, it would
 * replace the endpoint's last good one.
 */
export function parseModelList(body: unknown): string[] {
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
  return unique;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
