import { describe, expect, it } from 'vitest';
import { AccessLog, createLogger, logsAt } from '../../../src/telemetry/index.js';

const AT = new Date('2026-01-02T03:04:05.678Z');

function capture(level: 'info' | 'warn', fields: Record<string, unknown> = {}) {
  const lines: string[] = [];
  const logger = createLogger(level, 'sluice', fields);
  const log = new AccessLog(logger, { write: (line) => lines.push(line), now: () => AT });
  return { logger, log, lines };
}

describe('AccessLog', () => {
  it('writes one JSON line with the fields every log line has, the logger\'s own fields and the entry', () => {
    const { log, lines } = capture('info', { pid: 42, worker: 1 });
    log.write({ request_id: 'r1', status: 200, endpoint: 'b0', ttft_ms: undefined });
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('}\n')).toBe(true);
    expect(lines[0]!.slice(0, -1)).not.toContain('\n');
    expect(JSON.parse(lines[0]!)).toEqual({ time: AT.toISOString(), level: 'info', message: 'request', service: 'sluice', pid: 42, worker: 1, request_id: 'r1', status: 200, endpoint: 'b0' });
  });

  it('follows the logger\'s level, also when a reload changes it', () => {
    const { logger, log, lines } = capture('warn');
    log.write({ request_id: 'r1' });
    expect(lines).toHaveLength(0);
    logger.level = 'info';
    log.write({ request_id: 'r2' });
    expect(lines.map((l) => JSON.parse(l).request_id)).toEqual(['r2']);
  });

  it('escapes what a client sent, so a path cannot forge a second line', () => {
    const { log, lines } = capture('info');
    log.write({ path: '/v1/x\n{"level":"error"}' });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!).path).toBe('/v1/x\n{"level":"error"}');
  });
});

describe('logsAt', () => {
  it('agrees with winston on every level pair', () => {
    const levels = ['error', 'warn', 'info', 'debug'] as const;
    for (const configured of levels) {
      const logger = createLogger(configured);
      for (const asked of levels) expect(logsAt(logger, asked)).toBe(logger.isLevelEnabled(asked));
    }
  });
});
