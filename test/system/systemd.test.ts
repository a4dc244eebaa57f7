import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { run } from '../helpers/run.js';

// systemd's own checks of systemd/signalbox.service (systemd-analyze from the `systemd` package, which
// .ci/run installs). They read the unit file; nothing is installed or started.

const UNIT = fileURLToPath(new URL('../../systemd/signalbox.service', import.meta.url));
/** The target for `systemd-analyze security`: 0 is locked down, 10 is fully exposed. */
const EXPOSURE_TARGET = 2.0;

let dir: string;
let unitCopy: string;

beforeAll(() => {
  if (spawnSync('sh', ['-c', 'command -v systemd-analyze']).status !== 0) {
    throw new Error('systemd-analyze is missing: apt-get install -y systemd (.ci/run does this)');
  }
  // `verify` fails when ExecStart's binary does not exist, and /usr/bin/node need not exist on a test
  // machine (nvm, another prefix). The copy differs only in that path: it points at the node running
  // these tests. The file name is kept, since verify derives the unit's name from it.
  dir = mkdtempSync(join(tmpdir(), 'signalbox-unit-'));
  unitCopy = join(dir, 'signalbox.service');
  const text = readFileSync(UNIT, 'utf8');
  if (!/^ExecStart=\/usr\/bin\/node /m.test(text)) throw new Error('the unit no longer starts /usr/bin/node; update this test');
  writeFileSync(unitCopy, text.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('systemd/signalbox.service', () => {
  it('passes systemd-analyze verify with nothing on stderr', async () => {
    const res = await run('systemd-analyze', ['verify', unitCopy]);
    // Any warning (unknown directive, bad value, missing binary) goes to stderr: treated as failure.
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it(`has a systemd-analyze security exposure below ${EXPOSURE_TARGET}`, async () => {
    const res = await run('systemd-analyze', ['security', '--offline=yes', '--no-pager', unitCopy]);
    const match = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(res.stdout);
    expect(match).not.toBeNull();
    const score = Number(match![1]);
    // Printed so the run records the number (the issue asks for it), not only whether it passed.
    process.stdout.write(`systemd-analyze security: exposure ${score}\n`);
    expect(score).toBeLessThan(EXPOSURE_TARGET);
  });

  it.each([
    ['User', 'signalbox'],
    ['ProtectSystem', 'strict'],
    ['StateDirectory', 'signalbox'],
    ['NoNewPrivileges', 'yes'],
    ['PrivateTmp', 'yes'],
    ['ProtectHome', 'yes'],
    ['CapabilityBoundingSet', ''],
    ['SystemCallFilter', '@system-service'],
    ['RestrictAddressFamilies', 'AF_INET AF_INET6 AF_UNIX'],
    ['UMask', '0077'],
    ['Restart', 'on-failure'],
    ['EnvironmentFile', '-/etc/signalbox/signalbox.env'],
  ])('sets %s=%s as the issue requires', (key, value) => {
    expect(readFileSync(UNIT, 'utf8').split('\n')).toContain(`${key}=${value}`);
  });

  it('does not set MemoryDenyWriteExecute, which V8 JIT cannot run under', () => {
    expect(readFileSync(UNIT, 'utf8')).not.toMatch(/^MemoryDenyWriteExecute=/m);
  });
});
