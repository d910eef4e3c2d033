import type { LoadReport } from './report.js';

/** Ollama `GET /api/ps`: `{models: [{name, model, ...}]}`, the models loaded in memory now. */
export function parseOllamaPs(body: unknown): LoadReport {
  const models = isRecord(body) && Array.isArray(body.models) ? body.models : undefined;
  if (!models) throw new TypeError('/api/ps answer has no "models" list');
  const resident = new Set<string>();
  for (const model of models) {
    if (!isRecord(model)) continue;
    if (typeof model.name === 'string') resident.add(model.name);
    if (typeof model.model === 'string') resident.add(model.model);
  }
  return { residentModels: resident };
}

/** LM Studio `GET /api/v0/models`: `{data: [{id, state: "loaded" | "not-loaded"}]}`. */
export function parseLmStudioModels(body: unknown): LoadReport {
  const models = isRecord(body) && Array.isArray(body.data) ? body.data : undefined;
  if (!models) throw new TypeError('/api/v0/models answer has no "data" list');
  const resident = new Set<string>();
  for (const model of models) {
    if (isRecord(model) && typeof model.id === 'string' && model.state === 'loaded') resident.add(model.id);
  }
  return { residentModels: resident };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null;
}
