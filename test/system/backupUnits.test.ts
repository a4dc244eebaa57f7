import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { run } from '../helpers/run.js';

// systemd's own checks of the backup service and timer docs/deploy.md §8 installs (systemd-analyze,
// from the `systemd` package). As in systemd.test.ts, the copies point ExecStart at the node running
// the tests, since /usr/bin/node need not exist on a test machine; nothing else is changed.

const SYSTEMD = fileURLToPath(new URL('../../systemd/', import.meta.url));
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'signalbox-backup-units-'));
  for (const name of ['signalbox-backup.service', 'signalbox-backup.timer']) {
    const text = readFileSync(join(SYSTEMD, name), 'utf8');
    writeFileSync(join(dir, name), text.replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
  }
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('systemd/signalbox-backup.service and .timer', () => {
  it('pass systemd-analyze verify with nothing on stderr', async () => {
    const res = await run('systemd-analyze', ['verify', join(dir, 'signalbox-backup.service'), join(dir, 'signalbox-backup.timer')]);
    expect({ code: res.code, stderr: res.stderr }).toEqual({ code: 0, stderr: '' });
  });

  it('the timer fires daily at 03:15', async () => {
    const onCalendar = /^OnCalendar=(.+)$/m.exec(readFileSync(join(SYSTEMD, 'signalbox-backup.timer'), 'utf8'))![1]!;
    const res = await run('systemd-analyze', ['calendar', onCalendar]);
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/Normalized form: \*-\*-\* 03:15:00/);
  });
});
