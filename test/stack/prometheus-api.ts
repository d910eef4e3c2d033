/** A small client for the parts of Prometheus' HTTP API the stack tests use. */

export interface Sample {
  metric: Record<string, string>;
  value?: [number, string];
}

export interface Alert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: 'pending' | 'firing' | 'inactive';
  value: string;
}

export interface ExemplarSeries {
  seriesLabels: Record<string, string>;
  exemplars: Array<{ labels: Record<string, string>; value: string; timestamp: number }>;
}

export interface Target {
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
}

type ApiAnswer<T> = { status: 'success'; data: T } | { status: 'error'; errorType: string; error: string };

export class PrometheusApi {
  constructor(readonly baseUrl: string) {}

  async #get<T>(path: string, params: Record<string, string | string[]> = {}): Promise<ApiAnswer<T>> {
    const search = new URLSearchParams();
    for (const [key, value] of Object.entries(params)) for (const v of [value].flat()) search.append(key, v);
    const res = await fetch(`${this.baseUrl}${path}?${search}`, { signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as ApiAnswer<T>;
  }

  /** Instant query (at `time`, Unix seconds, when given); errors (bad PromQL, failed evaluation) come back as `error`. */
  async query(expr: string, time?: number): Promise<{ result: Sample[] } | { error: string }> {
    const params: Record<string, string> = time === undefined ? { query: expr } : { query: expr, time: String(time) };
    const answer = await this.#get<{ resultType: string; result: Sample[] | [number, string] }>('/api/v1/query', params);
    if (answer.status !== 'success') return { error: `${answer.errorType}: ${answer.error}` };
    const { resultType, result } = answer.data;
    // Scalars (e.g. `vector(0)` folded) count as one sample.
    return { result: resultType === 'vector' || resultType === 'matrix' ? (result as Sample[]) : [{ metric: {}, value: result as [number, string] }] };
  }

  /** Label values of the series a selector matches, as Grafana's `label_values(selector, label)`. */
  async labelValues(selector: string, label: string): Promise<{ values: string[] } | { error: string }> {
    const answer = await this.#get<Array<Record<string, string>>>('/api/v1/series', { 'match[]': selector, start: String(Date.now() / 1000 - 3600) });
    if (answer.status !== 'success') return { error: `${answer.errorType}: ${answer.error}` };
    return { values: [...new Set(answer.data.map((s) => s[label]).filter((v): v is string => v !== undefined))].sort() };
  }

  async alerts(): Promise<Alert[]> {
    const answer = await this.#get<{ alerts: Alert[] }>('/api/v1/alerts');
    if (answer.status !== 'success') throw new Error(answer.error);
    return answer.data.alerts;
  }

  async targets(): Promise<Target[]> {
    const answer = await this.#get<{ activeTargets: Target[] }>('/api/v1/targets', { state: 'active' });
    if (answer.status !== 'success') throw new Error(answer.error);
    return answer.data.activeTargets;
  }

  async exemplars(expr: string, sinceSeconds: number): Promise<ExemplarSeries[]> {
    const now = Date.now() / 1000;
    const answer = await this.#get<ExemplarSeries[]>('/api/v1/query_exemplars', { query: expr, start: String(now - sinceSeconds), end: String(now) });
    if (answer.status !== 'success') throw new Error(answer.error);
    return answer.data;
  }

  /** The single value of an instant query, or undefined when it has no series. */
  async scalar(expr: string): Promise<number | undefined> {
    const answer = await this.query(expr);
    if ('error' in answer) throw new Error(answer.error);
    const first = answer.result[0]?.value;
    return first ? Number(first[1]) : undefined;
  }
}
