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
  } catch {
    throw new DiscoveryError(`GET ${target.modelsPath}: response is not JSON`);
  }
  return parseModelList(body);
}

/** Extracts model names from either list shape; anything else is an error. */
export function parseModelList(body: unknown): string[] {
  if (isRecord(body) && Array.isArray(body.models)) {
    return body.models.flatMap((m) => (isRecord(m) && typeof m.name === 'string' ? [m.name] : isRecord(m) && typeof m.model === 'string' ? [m.model] : []));
  }
  if (isRecord(body) && Array.isArray(body.data)) {
    return body.data.flatMap((m) => (isRecord(m) && typeof m.id === 'string' ? [m.id] : []));
  }
  throw new DiscoveryError('model list has neither "models" (Ollama) nor "data" (OpenAI)');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null;
}
