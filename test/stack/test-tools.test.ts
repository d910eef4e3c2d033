/**
 * scripts/ensure-test-tools.sh, run against a fake apt-get: it installs only what is missing,
 * forbids service starts during the install, restores policy-rc.d, and stops and disables the
 * services the packages would have started.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ROOT } from './dashboard-queries.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A bin directory with the basic commands the script needs and fakes that log their calls. */
function sandbox(): { bin: string; log: string; policy: string; run: () => ReturnType<typeof spawnSync> } {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-tools-'));
  dirs.push(dir);
  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const tool of ['bash', 'mktemp', 'cp', 'rm', 'tee', 'chmod', 'sort', 'cat', 'id']) {
    const found = ['/usr/bin', '/bin'].map((d) => join(d, tool)).find((p) => existsSync(p));
    if (found) symlinkSync(found, join(bin, tool));
  }
  const log = join(dir, 'calls.log');
  const policy = join(dir, 'policy-rc.d');
  const fake = (name: string, body: string) => {
    writeFileSync(join(bin, name), `#!/bin/bash\necho "${name} $*" >> ${log}\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  };
  // While installing, record what policy-rc.d answers (101 forbids a start).
  fake('apt-get', `if [ "$1" = install ]; then ${policy} prometheus start; echo "policy during install: $?" >> ${log}; fi`);
  fake('service', '');
  fake('update-rc.d', '');
  fake('sudo', '"$@"');
  const run = () => spawnSync(join(bin, 'bash'), [join(ROOT, 'scripts/ensure-test-tools.sh')], { encoding: 'utf8', env: { PATH: bin, POLICY_RC_D: policy }, timeout: 30_000 });
  return { bin, log, policy, run };
}

describe('scripts/ensure-test-tools.sh', () => {
  it('installs the missing packages with service starts forbidden, then stops and disables the services', () => {
    const box = sandbox();
    // Present already: the script must not install it again.
    writeFileSync(join(box.bin, 'wrk'), '#!/bin/sh\n');
    chmodSync(join(box.bin, 'wrk'), 0o755);
    const result = box.run();
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
    const calls = readFileSync(box.log, 'utf8');
    const install = calls.split('\n').find((l) => l.startsWith('apt-get install'))!;
    for (const pkg of ['prometheus', 'docker-compose', 'redis-server']) expect(install).toContain(pkg);
    expect(install).not.toContain('wrk');
    expect(calls).toContain('policy during install: 101');
    expect(calls).toMatch(/^service prometheus stop$/m);
    expect(calls).toMatch(/^update-rc.d redis-server disable$/m);
    // No policy-rc.d existed before: none is left behind.
    expect(existsSync(box.policy)).toBe(false);
  });

  it('restores an existing policy-rc.d', () => {
    const box = sandbox();
    writeFileSync(box.policy, '#!/bin/sh\nexit 0\n');
    expect(box.run().status).toBe(0);
    expect(readFileSync(box.policy, 'utf8')).toBe('#!/bin/sh\nexit 0\n');
  });

  it('does nothing, quietly, when every tool is there', () => {
    const box = sandbox();
    for (const tool of ['prometheus', 'promtool', 'docker-compose', 'redis-server', 'nginx', 'haproxy', 'wrk', 'valgrind', 'callgrind_control']) {
      writeFileSync(join(box.bin, tool), '#!/bin/sh\n');
      chmodSync(join(box.bin, tool), 0o755);
    }
    const result = box.run();
    expect(result.status).toBe(0);
    expect(`${result.stdout}${result.stderr}`).toBe('');
    expect(existsSync(box.log)).toBe(false);
  });
});
