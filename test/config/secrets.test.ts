import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseConfig } from '../../app/config/parse.js';
import { vapidKeysOf } from '../../app/config/secrets.js';

// app/config/secrets.ts: DATA_DIR's secrets are generated once, whole, however many processes start at once
// (a first `npm start` beside the admin CLI, instances sharing one DATA_DIR). Real processes, as those are.

const SECRETS_JS = fileURLToPath(new URL('../../dist/app/config/secrets.js', import.meta.url));
const READ_ONE = `import(${JSON.stringify(SECRETS_JS)}).then((m) => {
  try {
    const s = m.loadSecrets({ DATA_DIR: process.env.DIR });
    process.stdout.write([s.jwtSecret, s.dataKey, s.vapidPrivateKey].map((b) => b.toString('hex')).join(' '));
  } catch (err) {
    process.stdout.write('failed: ' + err.message);
  }
});`;

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function loadIn(dir: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', READ_ONE], { env: { PATH: process.env.PATH ?? '', DIR: dir } });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => resolve(out));
  });
}

describe('secrets generated in DATA_DIR', () => {
  it('16 processes starting at once on an empty DATA_DIR all read the same three whole secrets, 0600, and leave nothing else', async () => {
    for (let round = 0; round < 3; round++) {
      const dir = mkdtempSync(join(tmpdir(), 'signalbox-secrets-'));
      dirs.push(dir);
      const outs = await Promise.all(Array.from({ length: 16 }, () => loadIn(dir)));
      expect(outs.filter((o) => o.startsWith('failed'))).toEqual([]);
      expect(new Set(outs).size).toBe(1);
      expect(readdirSync(dir).sort()).toEqual(['data-key', 'jwt-secret', 'vapid-private-key']);
      for (const file of readdirSync(dir)) expect(statSync(join(dir, file)).mode & 0o777).toBe(0o600);
    }
  });
});

describe('vapidKeysOf', () => {
  it('writes a private key with a leading zero byte as the 32 bytes VAPID_PRIVATE_KEY takes (getPrivateKey() drops it)', () => {
    const short = Buffer.alloc(31, 7); // the scalar 0x00 07 07 ... as getPrivateKey() hands it out
    const keys = vapidKeysOf(short);
    expect(Buffer.from(keys.privateKey, 'base64url')).toEqual(Buffer.concat([Buffer.alloc(1), short]));
    const config = parseConfig(
      { VAPID_PRIVATE_KEY: keys.privateKey, VAPID_SUBJECT: 'mailto:ops@example.org' },
      { jwtSecret: Buffer.alloc(32, 1), dataKey: Buffer.alloc(32, 2) },
    );
    expect(config.vapid?.publicKey).toBe(keys.publicKey);
  });
});
