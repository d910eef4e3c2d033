import { parseJsonShallow } from '../endpoints/index.js';
import { parseSglangMetrics, parseVllmMetrics } from './exposition.js';
import { parseLmStudioModels, parseOllamaPs } from './model-state.js';
import type { LoadReport, LoadSourceName } from './report.js';

/** How to ask one server family for its load: a GET on `path`, read by `parse`. */
export interface LoadSource {
  readonly path: string;
  readonly accept: string;
  /** Reads the answer's body; throws when it is not what the family sends. */
  readonly parse: (body: string) => LoadReport;
}

const metrics = (parse: (text: string) => LoadReport): LoadSource => ({ path: '/metrics', accept: 'text/plain', parse });
const json = (path: string, parse: (body: unknown) => LoadReport): LoadSource => ({
  path,
  accept: 'application/json',
  // Read every load.interval: an answer nested beyond any real one is refused before it is parsed.
  parse: (body) => parse(parseJsonShallow(body)),
});

/** The reader of each source; `none` has no reader (Sluice counts only what it sent). */
export const LOAD_SOURCE_READERS: Readonly<Record<Exclude<LoadSourceName, 'none'>, LoadSource>> = {
  vllm: metrics(parseVllmMetrics),
  sglang: metrics(parseSglangMetrics),
  ollama: json('/api/ps', parseOllamaPs),
  lmstudio: json('/api/v0/models', parseLmStudioModels),
};
