import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { defaultBundlePath } from '../../app/sdk/sdkBundle.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { useListeningTestApp } from '../helpers/listening.js';
import { useTestApp } from '../helpers/perTest.js';
import { run } from '../helpers/run.js';
import { FAST_ARGON2, clockAfterRealTime } from './harness.js';

const BUNDLE = defaultBundlePath();

/**
 * What identifies a body's bytes: its length and SHA-256. Compared instead of the bytes themselves,
 * which jest's toEqual walks one index at a time (seconds for the ~430 KB bundle).
 */
const bytesOf = (bytes: Buffer | string) => {
  const buffer = Buffer.from(bytes);
  return { length: buffer.length, sha256: createHash('sha256').update(buffer).digest('hex') };
};

describe('GET /sdk/signalbox.js', () => {
  const t = useTestApp();

  it('serves the built bundle as JavaScript, revalidated at every use (no-cache), with a strong ETag', async () => {
    const res = await t.http.get('/sdk/signalbox.js');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    // A freshness lifetime (max-age) would let browsers run an SDK with a fixed hole that long after an upgrade.
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers.etag).toMatch(/^"[A-Za-z0-9_-]{43}"$/); // strong: no W/ prefix
    expect(bytesOf(res.text)).toEqual(bytesOf(readFileSync(BUNDLE)));
  });

  it('sends it gzipped to a client that accepts gzip, under its own ETag, and as is to one that does not', async () => {
    const zipped = await t.http.get('/sdk/signalbox.js').set('Accept-Encoding', 'gzip');
    const plain = await t.http.get('/sdk/signalbox.js').set('Accept-Encoding', 'identity');
    expect(zipped.headers['content-encoding']).toBe('gzip');
    expect(Number(zipped.headers['content-length'])).toBeLessThan(readFileSync(BUNDLE).length / 2);
    expect(bytesOf(zipped.text)).toEqual(bytesOf(readFileSync(BUNDLE))); // supertest inflates it
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(Number(plain.headers['content-length'])).toBe(readFileSync(BUNDLE).length);
    expect(zipped.headers.etag).not.toBe(plain.headers.etag);
    for (const res of [zipped, plain]) expect(res.headers.vary).toMatch(/Accept-Encoding/i);
  });

  it('answers 304 without a body to a matching If-None-Match, still no-cache', async () => {
    const { etag } = (await t.http.get('/sdk/signalbox.js')).headers;
    const res = await t.http.get('/sdk/signalbox.js').set('If-None-Match', etag!);
    expect({ status: res.status, body: res.text, etag: res.headers.etag }).toEqual({ status: 304, body: '', etag });
    expect(res.headers['cache-control']).toBe('no-cache');
  });

  it('sends the whole module again when If-None-Match names another version', async () => {
    const res = await t.http.get('/sdk/signalbox.js').set('If-None-Match', '"an-older-build"');
    expect(res.status).toBe(200);
    expect(res.text.length).toBe(readFileSync(BUNDLE).length);
  });
});

describe('GET /sdk/signalbox.js when the SDK was never built', () => {
  const missing = join(fileURLToPath(new URL('.', import.meta.url)), 'no-such-bundle.js');
  const t = useTestApp({ sdkBundlePath: missing });

  it('answers 503 unavailable saying how to build it, not cached, and the rest of the server works', async () => {
    expect(existsSync(missing)).toBe(false);
    const res = await t.http.get('/sdk/signalbox.js');
    expect(res.status).toBe(503);
    expect(res.body.error.code).toBe('unavailable');
    expect(res.body.error.message).toContain('npm run build');
    expect(res.headers['cache-control']).toBe('no-store');
    expect((await t.http.get('/health')).status).toBe(200);
  });

  it('says so once in the log at start', async () => {
    const warnings = t.logs.filter((l) => String(l.msg).includes('client SDK bundle missing'));
    expect(warnings).toEqual([expect.objectContaining({ level: 40, path: missing })]);
  });
});

describe('the bundle, copied where no node_modules can be found', () => {
  const t = useListeningTestApp();
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'signalbox-sdk-'));
    copyFileSync(BUNDLE, join(dir, 'signalbox.js'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('runs in plain Node 20: registers, makes and publishes a key pair, with nothing else installed', async () => {
    clockAfterRealTime(t);
    const script = `
      import { Signalbox } from './signalbox.js';
      const sb = new Signalbox({ baseUrl: process.env.BASE_URL });
      await sb.register({ username: 'bundled', email: 'bundled@example.org', password: 'correct horse battery' });
      const { fingerprint } = await sb.keys.ensure();
      console.log(JSON.stringify({ username: sb.user.username, fingerprint }));`;
    writeFileSync(join(dir, 'main.mjs'), script);
    const result = await run(process.execPath, [join(dir, 'main.mjs')], { cwd: dir, env: { BASE_URL: t.baseUrl } });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const { username, fingerprint } = JSON.parse(result.stdout) as { username: string; fingerprint: string };
    const profile = await t.http.get(`/users/${username}`).set(bearer(await registerUser(t)));
    expect(profile.body.pgp.fingerprint).toBe(fingerprint);
  });

  // openpgp's browser build read navigator.userAgent unguarded before WebCrypto AES-GCM (client/shims/userAgent.js).
  // The backup's argon2 is the harness's small one (FAST_ARGON2): what these check comes after it.
  it.each([
    ['no navigator at all (Node 20)', 'delete globalThis.navigator;'],
    ["React Native's navigator, which has no userAgent", "Object.defineProperty(globalThis, 'navigator', { value: { product: 'ReactNative' }, configurable: true });"],
  ])('saves and loads a key backup (AES-GCM through WebCrypto) with %s', async (_name, platform) => {
    clockAfterRealTime(t);
    const script = `
      ${platform}
      const { Signalbox } = await import('./signalbox.js');
      const sb = new Signalbox({ baseUrl: process.env.BASE_URL, keyBackupArgon2: ${JSON.stringify(FAST_ARGON2)} });
      await sb.register({ username: 'backed_up', email: 'backed@example.org', password: 'correct horse battery' });
      const { fingerprint } = await sb.keys.ensure();
      await sb.keys.saveBackup('a long enough backup passphrase');
      await sb.keys.forget();
      await sb.keys.loadBackup('a long enough backup passphrase');
      console.log(JSON.stringify({ before: fingerprint, after: (await sb.keys.ensure()).fingerprint }));`;
    writeFileSync(join(dir, 'main.mjs'), script);
    const result = await run(process.execPath, [join(dir, 'main.mjs')], { cwd: dir, env: { BASE_URL: t.baseUrl } });
    expect({ code: result.code, stderr: result.stderr }).toEqual({ code: 0, stderr: '' });
    const { before, after } = JSON.parse(result.stdout) as { before: string; after: string };
    expect(after).toBe(before);
  });
});
