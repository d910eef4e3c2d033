import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { jsonNumber } from '../../../src/telemetry/access-log.js';
import { AccessLog, createLogger, logsAt } from '../../../src/telemetry/index.js';

const AT = new Date('2026-01-02T03:04:05.678Z');

function capture(level: 'info' | 'warn', fields: Record<string, unknown> = {}) {
  const lines: string[] = [];
  const logger = createLogger(level, 'sluice', fields);
  const log = new AccessLog(logger, { write: (line) => lines.push(line), now: () => AT.getTime() });
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

  it('never repeats a name: an entry field named like a logger field or a leading one replaces it, as a later field would', () => {
    const { log, lines } = capture('info', { pid: 42 });
    log.write({ request_id: 'r1', pid: 7 });
    log.write({ request_id: 'r2', message: 'other' });
    log.write({});
    expect(lines.map((l) => l.match(/"pid"/g)?.length ?? 0)).toEqual([1, 1, 1]);
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { time: AT.toISOString(), level: 'info', message: 'request', service: 'sluice', pid: 7, request_id: 'r1' },
      { time: AT.toISOString(), level: 'info', message: 'other', service: 'sluice', pid: 42, request_id: 'r2' },
      { time: AT.toISOString(), level: 'info', message: 'request', service: 'sluice', pid: 42 },
    ]);
  });

  it('follows the logger\'s level, also when a reload changes it', () => {
    const { logger, log, lines } = capture('warn');
    log.write({ request_id: 'r1' });
    expect(lines).toHaveLength(0);
    logger.level = 'info';
    log.write({ request_id: 'r2' });
    expect(lines.map((l) => JSON.parse(l).request_id)).toEqual(['r2']);
  });

  it('writes the line JSON.stringify would, byte for byte, with the time as toISOString writes it', () => {
    const lines: string[] = [];
    let now = 0;
    const log = new AccessLog(createLogger('info', 'sluice', { pid: 42 }), { write: (line) => lines.push(line), now: () => now });
    const entry = { request_id: 'r1', trace_id: undefined, method: 'POST', path: '/v1/chat/completions', model: 'm', endpoint: 'b0', status: 200, attempts: 1, duration_ms: 12.3, ttfb_ms: 0.1, ttft_ms: 1000.5, bytes: 512, error: undefined };
    // Across second, minute, day and year boundaries, and every width of the milliseconds.
    const times = [0, 7, 45, 999, 1000, AT.getTime(), AT.getTime() + 322, Date.UTC(2026, 11, 31, 23, 59, 59, 999), Date.UTC(2027, 0, 1), Date.UTC(2027, 0, 1, 0, 0, 0, 5)];
    for (const at of times) {
      now = at;
      log.write(entry);
    }
    expect(lines).toEqual(times.map((at) => `${JSON.stringify({ time: new Date(at).toISOString(), level: 'info', message: 'request', service: 'sluice', pid: 42, ...entry })}\n`));
  });

  it('writes entries with many names of their own as JSON.stringify would (past the names it keeps escaped)', () => {
    const lines: string[] = [];
    const log = new AccessLog(createLogger('info', 'sluice'), { write: (line) => lines.push(line), now: () => AT.getTime() });
    const entries = Array.from({ length: 150 }, (_, i) => ({ [`field_${i}`]: i, [`quote"${i}`]: `v${i}` }));
    for (const entry of entries) log.write(entry);
    expect(lines).toEqual(entries.map((entry) => `${JSON.stringify({ time: AT.toISOString(), level: 'info', message: 'request', service: 'sluice', ...entry })}\n`));
  });

  it('writes numbers as JSON.stringify does', () => {
    const tenths = Array.from({ length: 2000 }, (_, i) => Math.round((i * 7.37 + 0.01) * 10) / 10);
    const others = [0, -0, 1, -1, 0.1, 0.25, 1 / 3, 2 ** 53, 2 ** 31, 1e21, 1.5e-7, 99999999.9, 1e8 + 0.5, -12.3, Number.NaN, Infinity, -Infinity, Number.MAX_VALUE, Number.MIN_VALUE];
    const random = Array.from({ length: 2000 }, () => Math.random() * 10 ** Math.floor(Math.random() * 12));
    for (const value of [...tenths, ...others, ...random, ...random.map((v) => Math.round(v * 10) / 10)]) expect(jsonNumber(value), String(value)).toBe(JSON.stringify(value));
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

describe('AccessLog to stdout', () => {
  /** Runs `body` in a fresh Node process (the built AccessLog, writing to stdout); returns its lines and how many writes stdout got. */
  function run(body: string): { lines: Array<Record<string, unknown>>; writes: number } {
    const url = new URL('../../../dist/telemetry/index.js', import.meta.url).href;
    const script = `
      const { AccessLog, createLogger } = await import(${JSON.stringify(url)});
      let writes = 0;
      const write = process.stdout.write.bind(process.stdout);
      process.stdout.write = (chunk, ...rest) => { writes++; return write(chunk, ...rest); };
      process.on('exit', () => process.stderr.write(String(writes)));
      const log = new AccessLog(createLogger('info', 'sluice', { pid: 7 }));
      ${body}`;
    const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    return { lines: out.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)), writes: Number(out.stderr.trim().split('\n').pop()) };
  }

  it('writes the lines of one turn of the event loop in one write, in order', () => {
    const { lines, writes } = run(`for (const id of ['a', 'b', 'c']) log.write({ request_id: id, status: 200 });
      setTimeout(() => log.write({ request_id: 'd', status: 200 }), 10);`);
    expect(lines.map((l) => l.request_id)).toEqual(['a', 'b', 'c', 'd']);
    expect(lines[0]).toMatchObject({ level: 'info', message: 'request', service: 'sluice', pid: 7, status: 200 });
    expect(writes).toBe(2);
  });

  it('writes what is pending when the process exits at once', () => {
    const { lines } = run(`log.write({ request_id: 'last', status: 200 }); process.exit(0);`);
    expect(lines.map((l) => l.request_id)).toEqual(['last']);
  });
});
