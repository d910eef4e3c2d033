import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ROOT } from '../../helpers/processes.js';

/** Whether String.prototype has fast properties after `code` ran, in a fresh `node --allow-natives-syntax`. */
function stringPrototypeFastAfter(code: string): boolean {
  const script = `${code}\nprocess.stdout.write(String(%HasFastProperties(String.prototype)));`;
  return execFileSync(process.execPath, ['--allow-natives-syntax', '--input-type=module', '-e', script], { cwd: ROOT }).toString() === 'true';
}

const distModule = (path: string) => pathToFileURL(join(ROOT, 'dist', path)).href;

describe('keepStringPrototypeFast', () => {
  it('undoes what a subclass of String does to String.prototype', () => {
    expect(stringPrototypeFastAfter('class S extends String {}')).toBe(false);
    expect(stringPrototypeFastAfter(`const { keepStringPrototypeFast } = await import('${distModule('access/string-prototype.js')}'); class S extends String {}; keepStringPrototypeFast();`)).toBe(true);
  });

  it('keeps it fast for later subclasses', () => {
    expect(stringPrototypeFastAfter(`const { keepStringPrototypeFast } = await import('${distModule('access/string-prototype.js')}'); keepStringPrototypeFast(); class S extends String {}`)).toBe(true);
  });

  it('runs when Sluice loads ioredis', () => {
    expect(stringPrototypeFastAfter(`await import('${distModule('access/redis-buckets.js')}');`)).toBe(true);
  });

  it('leaves it fast once every module of Sluice is loaded', () => {
    expect(stringPrototypeFastAfter(`await import('${distModule('sluice.js')}');`)).toBe(true);
  });
});
