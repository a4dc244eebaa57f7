import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseEnv } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { run } from '../helpers/run.js';
import { parseSystemdEnvFile } from './envFileRules.js';

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

// The env file a real run installs (the same rendering, printed instead of installed): systemd's
// EnvironmentFile= parser, sh's `.` (docs/deploy.md's `set -a; . file`) and the scripts' `--env` (Node's
// parseEnv) must all read the same values from it.
describe('scripts/install.sh --print-env', () => {
  /** Variables `sh -c 'set -a; . file; env'` exports, without the ones sh sets itself. */
  async function readBySh(file: string): Promise<Record<string, string>> {
    const res = await run('sh', ['-c', 'set -a; . "$1"; env -0', 'sh', file], { env: {} });
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const vars = Object.fromEntries(
      res.stdout
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])
        .filter(([name]) => !['PATH', 'PWD', 'SHLVL', 'OLDPWD', '_'].includes(name!)),
    );
    return vars;
  }

  /** install.sh run from a copy of the repository whose .env.example is `example`, printing its env file. */
  async function renderFrom(example: string): Promise<string> {
    const root = mkdtempSync(join(tmpdir(), 'signalbox-install-'));
    mkdirSync(join(root, 'scripts'));
    copyFileSync(INSTALL, join(root, 'scripts', 'install.sh'));
    writeFileSync(join(root, '.env.example'), example);
    const res = await run('bash', [join(root, 'scripts', 'install.sh'), '--print-env']);
    rmSync(root, { recursive: true, force: true });
    expect(res.code).toBe(0);
    return res.stdout;
  }

  it('writes .env.example with DATA_DIR=/var/lib/signalbox, read alike by systemd, sh and --env', async () => {
    const res = await run('bash', [INSTALL, '--print-env']);
    expect(res.code).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'signalbox-env-'));
    const file = join(dir, 'signalbox.env');
    writeFileSync(file, res.stdout);
    try {
      const bySystemd = parseSystemdEnvFile(res.stdout);
      expect(bySystemd.DATA_DIR).toBe('/var/lib/signalbox');
      // The value that made `. file` fail before: `<` and `>` unquoted are redirections to sh.
      expect(bySystemd.MAIL_FROM).toBe('Signalbox <no-reply@localhost>');
      expect(Object.keys(bySystemd).length).toBeGreaterThan(40);
      expect(await readBySh(file)).toEqual(bySystemd);
      expect(parseEnv(res.stdout)).toEqual(bySystemd);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('quotes the characters special inside double quotes so systemd and sh still agree', async () => {
    const nasty = 'a\\b "c" $HOME `id` <x> ;#y';
    const text = await renderFrom(`# a comment\nEMPTY=\nNASTY=${nasty}\nDATA_DIR=./data\n`);
    const dir = mkdtempSync(join(tmpdir(), 'signalbox-env-'));
    const file = join(dir, 'signalbox.env');
    writeFileSync(file, text);
    try {
      const bySystemd = parseSystemdEnvFile(text);
      expect(bySystemd).toEqual({ EMPTY: '', NASTY: nasty, DATA_DIR: '/var/lib/signalbox' });
      expect(await readBySh(file)).toEqual(bySystemd);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
