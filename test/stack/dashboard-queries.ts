/** Reading the shipped dashboards and rule files, and picking PromQL apart, for the stack tests. */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { familyName } from './metric-contract.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const DASHBOARD_DIR = join(ROOT, 'dashboards');
export const PROMETHEUS_DIR = join(ROOT, 'prometheus');

export interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
  exemplar?: boolean;
  format?: string;
}
export interface Panel {
  id?: number;
  type: string;
  title?: string;
  description?: string;
  datasource?: { type?: string; uid?: string };
  fieldConfig?: { defaults?: { unit?: string } };
  targets?: Target[];
  panels?: Panel[];
  options?: Record<string, unknown>;
}
export interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  multi?: boolean;
  includeAll?: boolean;
  allValue?: string;
  refresh?: number;
  datasource?: { type?: string; uid?: string };
}
export interface Dashboard {
  uid?: string;
  title?: string;
  editable?: boolean;
  schemaVersion?: number;
  templating?: { list?: Variable[] };
  annotations?: { list?: Array<{ name?: string; expr?: string; builtIn?: number; datasource?: { type?: string; uid?: string } }> };
  panels?: Panel[];
}

export interface DashboardFile {
  readonly file: string;
  readonly text: string;
  readonly dashboard: Dashboard;
}

export function loadDashboards(): DashboardFile[] {
  return readdirSync(DASHBOARD_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => {
      const text = readFileSync(join(DASHBOARD_DIR, file), 'utf8');
      return { file, text, dashboard: JSON.parse(text) as Dashboard };
    });
}

/** Every panel, those nested in collapsed rows included; rows themselves excluded. */
export function panelsOf(dashboard: Dashboard): Panel[] {
  const out: Panel[] = [];
  for (const panel of dashboard.panels ?? []) {
    if (panel.type === 'row') out.push(...panelsOf({ panels: panel.panels ?? [] }));
    else out.push(panel);
  }
  return out;
}

export interface DashboardQuery {
  readonly kind: 'panel' | 'variable' | 'annotation';
  /** Panel title, variable name or annotation name. */
  readonly owner: string;
  readonly expr: string;
}

export function variableQuery(variable: Variable): string | undefined {
  if (variable.type !== 'query') return undefined;
  return typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? variable.definition);
}

/** Every PromQL expression of a dashboard: panel targets, query variables and annotations. */
export function dashboardQueries(dashboard: Dashboard): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const panel of panelsOf(dashboard)) {
    for (const t of panel.targets ?? []) if (t.expr) out.push({ kind: 'panel', owner: panel.title ?? '(untitled)', expr: t.expr });
  }
  for (const v of dashboard.templating?.list ?? []) {
    const q = variableQuery(v);
    if (q) out.push({ kind: 'variable', owner: v.name, expr: q });
  }
  for (const a of dashboard.annotations?.list ?? []) if (a.expr) out.push({ kind: 'annotation', owner: a.name ?? '(unnamed)', expr: a.expr });
  return out;
}

/**
 * Replaces Grafana's variables (`$name`, `${name}`, `${name:format}`) by the given values. `$1`
 * (a label_replace capture group) is no variable name; Grafana leaves it as it is, and so does this.
 */
export function substituteVariables(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced: string | undefined, bare: string | undefined) => {
    const name = (braced ?? bare)!;
    if (/^\d+$/.test(name)) return whole;
    const value = values[name];
    if (value === undefined) throw new Error(`no value for Grafana variable ${whole} in: ${expr}`);
    return value;
  });
}

/** `label_values(selector, label)` -> { selector, label }; undefined for other variable queries. */
export function parseLabelValues(query: string): { selector: string; label: string } | undefined {
  const match = /^\s*label_values\((.*),\s*(\w+)\s*\)\s*$/s.exec(query);
  return match ? { selector: match[1]!, label: match[2]! } : undefined;
}

/** Names of `sluice_*` metric families a text uses (histogram `_bucket`/`_sum`/`_count` folded). */
export function sluiceMetricNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/(?<![\w:])sluice_[a-z0-9_]*[a-z0-9]/g)) names.add(familyName(match[0]));
  return names;
}

/** Label names in the matchers of each `sluice_*{...}` selector of an expression. */
export function selectorLabels(expr: string): Array<{ metric: string; labels: string[] }> {
  const out: Array<{ metric: string; labels: string[] }> = [];
  for (const match of expr.matchAll(/(?<![\w:])(sluice_[a-z0-9_]+)\s*\{([^}]*)\}/g)) {
    const labels = [...match[2]!.matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)].map((m) => m[1]!);
    out.push({ metric: match[1]!, labels });
  }
  return out;
}

/** Recording rule names used in an expression (`sluice:what:aggregation`). */
export function recordingRuleNames(expr: string): Set<string> {
  return new Set([...expr.matchAll(/(?<![\w:])sluice:[a-z0-9_]+:[a-z0-9_]+/g)].map((m) => m[0]));
}

interface RuleFile {
  groups: Array<{ name: string; rules: Array<{ record?: string; alert?: string; expr: string; for?: string; labels?: Record<string, string>; annotations?: Record<string, string> }> }>;
}

export function loadRuleFile(file: string): RuleFile {
  return parseYaml(readFileSync(join(PROMETHEUS_DIR, file), 'utf8')) as RuleFile;
}

/** The rule files prometheus.yml loads, as listed there. */
export function ruleFilesOfConfig(): string[] {
  const config = parseYaml(readFileSync(join(PROMETHEUS_DIR, 'prometheus.yml'), 'utf8')) as { rule_files?: string[] };
  return config.rule_files ?? [];
}
