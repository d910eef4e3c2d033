/** Running the stack's command-line tools (promtool, docker-compose) from tests. */
import { spawnSync } from 'node:child_process';
import { ROOT } from './dashboard-queries.js';

export interface ToolResult {
  readonly status: number | null;
  readonly output: string;
}

export function hasTool(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' }).status === 0;
}

/** Runs a command in the repository root with a time limit; never throws. */
export function runTool(command: string, args: string[], cwd = ROOT, timeoutMs = 120_000, env: Record<string, string> = {}): ToolResult {
  if (!hasTool(command)) {
    return { status: null, output: `${command} is not installed (Debian: apt-get install prometheus docker-compose)` };
  }
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', timeout: timeoutMs, env: { ...process.env, ...env } });
  return { status: result.status, output: `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}` };
}
