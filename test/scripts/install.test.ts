import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { run } from '../helpers/run.js';

// Only the dry run is exercised here: a real run creates a system user and writes to /etc and /opt,
// which a test must not do to the machine it runs on.

const INSTALL = fileURLToPath(new URL('../../scripts/install.sh', import.meta.url));
/** Everything a real run may create or change. */
const TOUCHED = ['/etc/passwd', '/etc/group', '/etc/signalbox', '/etc/signalbox/signalbox.env', '/opt/signalbox', '/etc/systemd/system/signalbox.service'];

/** Existence, mode, size, mtime and (for files) content of each path: any change shows up as a difference. */
function snapshot(): Record<string, string> {
  return Object.fromEntries(
    TOUCHED.map((path) => {
      if (!existsSync(path)) return [path, 'absent'];
      const s = statSync(path);
      const content = s.isFile() ? readFileSync(path, 'utf8') : '';
      return [path, `${s.mode} ${s.uid}:${s.gid} ${s.size} ${s.mtimeMs} ${content}`];
    }),
  );
}

const dryRun = () => run('bash', [INSTALL, '--dry-run']);

describe('scripts/install.sh --dry-run', () => {
  it('exits 0 and says that nothing was changed', async () => {
    const res = await dryRun();
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('(dry run: nothing was changed)');
  });

  it('changes nothing on the machine', async () => {
    const before = snapshot();
    await dryRun();
    expect(snapshot()).toEqual(before);
  });

  it('names the unit it would install and where', async () => {
    const res = await dryRun();
    // Either it would install the unit, or it reports it as current: both name the target path.
    expect(res.stdout).toMatch(/\/etc\/systemd\/system\/signalbox\.service/);
  });

  it('accounts for every step: the user, the code and config directories, the env file and the unit', async () => {
    const { stdout } = await dryRun();
    for (const step of [/(useradd .*signalbox|user signalbox exists)/, /\/opt\/signalbox/, /\/etc\/signalbox( exists|$)/m, /signalbox\.env/, /signalbox\.service/]) {
      expect(stdout).toMatch(step);
    }
  });

  it('prints the next steps', async () => {
    expect((await dryRun()).stdout).toContain('Next steps:');
  });

  it('refuses an unknown option with exit 64, doing nothing', async () => {
    const before = snapshot();
    const res = await run('bash', [INSTALL, '--frobnicate']);
    expect(res.code).toBe(64);
    expect(res.stderr).toContain('usage:');
    expect(snapshot()).toEqual(before);
  });
});
