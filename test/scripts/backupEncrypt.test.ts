import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { enums, generateKey, readMessage } from 'openpgp';
import { makeTestApp, TEST_SECRETS, type TestApp } from '../helpers/app.js';
import { registerUser } from '../helpers/factories.js';
import { runScript, writeTestSecrets } from '../helpers/run.js';

// `backup --encrypt` (the compiled script, against a store the test app holds open) and `backup:decrypt`:
// a backup alone must not give away jwt-secret and data-key (with them a token can be minted).

const PASSPHRASE = 'a long backup passphrase, kept apart';
const SLOW = 60_000; // argon2 (64 MiB, 3 passes) once per file, both ways, in a spawned process

/** Apps and directories the tests made, removed when the file ends. */
const toClose: TestApp[] = [];
const toRemove: string[] = [];
afterAll(async () => {
  for (const app of toClose.splice(0)) await app.close();
  for (const dir of toRemove.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh installation `t` with its secrets, and an empty scratch directory `dir` beside it. */
function installation(): { t: TestApp; dir: string } {
  const t = makeTestApp();
  toClose.push(t);
  writeTestSecrets(t.dir);
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-backup-enc-'));
  toRemove.push(dir);
  return { t, dir };
}

/** An app on a decrypted backup. */
function openRestored(dataDir: string): TestApp {
  const app = makeTestApp({ dataDir });
  toClose.push(app);
  return app;
}

function passphraseFile(dir: string, text = PASSPHRASE): string {
  const file = join(dir, `passphrase-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, `${text}\n`, { mode: 0o600 });
  return file;
}

const backup = (t: TestApp, args: string[]) => runScript('backup', args, { DATA_DIR: t.dir });
const decrypt = (args: string[]) => runScript('backup-decrypt', args, {});

/** Every byte string in the backup that must not be readable from it. */
function plainSecrets(): Buffer[] {
  return [Buffer.from('SQLite format 3'), Buffer.from(TEST_SECRETS.dataKey.toString('base64')), Buffer.from(TEST_SECRETS.jwtSecret.toString('base64'))];
}

/**
 * One passphrase-encrypted backup that both passphrase tests look at, made at the first one's request:
 * argon2 runs once per file in each direction, the costliest step here. The right and the wrong passphrase
 * are then tried at once, each decryption in its own process.
 */
let passphraseRun: ReturnType<typeof encryptWithPassphrase> | undefined;
async function encryptWithPassphrase() {
  const { t, dir } = installation();
  const amy = await registerUser(t, { username: 'amy' });
  const dest = join(dir, 'encrypted');
  const encrypted = await backup(t, ['--encrypt', '--passphrase-file', passphraseFile(dir), dest]);
  const [decrypted, refused] = await Promise.all([
    decrypt(['--passphrase-file', passphraseFile(dir), dest, join(dir, 'plain')]),
    decrypt(['--passphrase-file', passphraseFile(dir, 'not the backup passphrase'), dest, join(dir, 'plain-wrong')]),
  ]);
  return { t, dir, amy, dest, encrypted, decrypted, refused };
}
const passphraseBackup = () => (passphraseRun ??= encryptWithPassphrase());

// The three tests run side by side (it.concurrent): the encryption and decryption work is in spawned processes.
describe('npm run backup -- --encrypt', () => {
  it.concurrent(
    '--passphrase-file: writes only OpenPGP messages (argon2 S2K, AEAD) that hold nothing readable, and decrypts to a copy a server opens',
    async () => {
      const { t, dir, amy, dest, encrypted, decrypted } = await passphraseBackup();
      expect({ code: encrypted.code, stderr: encrypted.stderr }).toEqual({ code: 0, stderr: '' });
      expect(readdirSync(dest).sort()).toEqual(['data-key.pgp', 'jwt-secret.pgp', 'signalbox.db.pgp']);
      for (const name of readdirSync(dest)) {
        const bytes = readFileSync(join(dest, name));
        for (const secret of plainSecrets()) expect(bytes.includes(secret)).toBe(false);
        const message = await readMessage({ binaryMessage: bytes });
        // openpgp's typings keep these fields private; they are the RFC 9580 packet fields.
        const [skesk] = message.packets.filterByTag(enums.packet.symEncryptedSessionKey) as unknown as Array<{ version: number; s2k: { type: string } }>;
        const [seipd] = message.packets.filterByTag(enums.packet.symEncryptedIntegrityProtectedData) as unknown as Array<{ version: number }>;
        expect(skesk?.s2k.type).toBe('argon2');
        expect(skesk?.version).toBe(6); // v6 SKESK ...
        expect(seipd?.version).toBe(2); // ... with SEIPDv2: AEAD
      }
      // No plain copy left in DATA_DIR either (the database is staged there while it is encrypted).
      expect(readdirSync(t.dir).filter((n) => n.startsWith('.backup-'))).toEqual([]);

      const plain = join(dir, 'plain');
      expect({ code: decrypted.code, stderr: decrypted.stderr }).toEqual({ code: 0, stderr: '' });
      expect(readFileSync(join(plain, 'data-key'), 'utf8')).toBe(readFileSync(join(t.dir, 'data-key'), 'utf8'));
      const restored = openRestored(plain);
      const login = await restored.http.post('/auth/login').send({ username: 'amy', password: amy.password });
      expect(login.status).toBe(200);
      expect(login.body.user.email).toBe(amy.email);
    },
    SLOW,
  );

  it.concurrent(
    '--passphrase-file: refuses a wrong passphrase, writing nothing',
    async () => {
      const { dir, encrypted, refused } = await passphraseBackup();
      expect(encrypted.code).toBe(0);
      expect(refused.code).toBe(65);
      expect(readdirSync(dir)).not.toContain('plain-wrong');
    },
    SLOW,
  );

  it.concurrent(
    '--recipient <public key file>: encrypts to the public key, and only its private key decrypts it',
    async () => {
      const { t, dir } = installation();
      const amy = await registerUser(t, { username: 'amy' });
      const { publicKey, privateKey } = await generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Backups' }], format: 'armored' });
      const other = await generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Someone else' }], format: 'armored' });
      writeFileSync(join(dir, 'backup.pub.asc'), publicKey);
      writeFileSync(join(dir, 'backup.key.asc'), privateKey, { mode: 0o600 });
      writeFileSync(join(dir, 'other.key.asc'), other.privateKey, { mode: 0o600 });
      const dest = join(dir, 'encrypted');
      expect((await backup(t, ['--encrypt', '--recipient', join(dir, 'backup.pub.asc'), dest])).code).toBe(0);
      for (const name of readdirSync(dest)) {
        const bytes = readFileSync(join(dest, name));
        for (const secret of plainSecrets()) expect(bytes.includes(secret)).toBe(false);
      }
      const plain = join(dir, 'plain');
      const [wrongKey, out] = await Promise.all([
        decrypt(['--key', join(dir, 'other.key.asc'), dest, join(dir, 'wrong')]),
        decrypt(['--key', join(dir, 'backup.key.asc'), dest, plain]),
      ]);
      expect(wrongKey.code).toBe(65);
      expect({ code: out.code, stderr: out.stderr }).toEqual({ code: 0, stderr: '' });
      const restored = openRestored(plain);
      expect((await restored.http.post('/auth/login').send({ username: 'amy', password: amy.password })).status).toBe(200);
    },
    SLOW,
  );
});
