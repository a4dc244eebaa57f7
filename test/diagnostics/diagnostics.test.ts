import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { useTestApp } from '../helpers/perTest.js';
import { run } from '../helpers/run.js';

// The page's HTTP side; what it does in a browser is test/system/diagnostics.test.ts.

const t = useTestApp();

describe('GET /diagnostics', () => {
  it('answers the page with a CSP that allows only its own origin and no inline script', async () => {
    const res = await t.http.get('/diagnostics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("default-src 'self'");
    // WebAssembly may be compiled (argon2 of the key backup), JavaScript may not be eval'd.
    expect(csp).toContain("script-src 'self' 'wasm-unsafe-eval';");
    expect(csp).not.toMatch(/unsafe-inline|'unsafe-eval'|https?:/);
    // Everything the page loads is on this server, and it loads the SDK the server serves.
    expect(res.text).toContain('<script type="module" src="/diagnostics/diagnostics.js"></script>');
    expect(res.text).not.toMatch(/<script>|<style>|\son\w+=|https?:\/\//);
  });

  it('has a data-check element area and the sign-in choices', async () => {
    const res = await t.http.get('/diagnostics');
    expect(res.text).toContain('id="checks"');
    expect(res.text).toContain('id="sign-in"');
    expect(res.text).toContain('id="throwaway"');
  });
});

describe('GET /diagnostics/{file}', () => {
  it.each([
    ['diagnostics.js', 'text/javascript; charset=utf-8'],
    ['webrtcChecks.js', 'text/javascript; charset=utf-8'],
    ['secondDevice.js', 'text/javascript; charset=utf-8'],
    ['diagnostics.css', 'text/css; charset=utf-8'],
    ['icon.svg', 'image/svg+xml'],
  ])('serves %s as %s', async (file, type) => {
    const res = await t.http.get(`/diagnostics/${file}`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(type);
  });

  it('imports the SDK from /sdk/signalbox.js', async () => {
    const res = await t.http.get('/diagnostics/diagnostics.js');
    expect(res.text).toContain("'/sdk/signalbox.js'");
  });

  it.each(['nope.js', '..%2F..%2Fpackage.json', 'diagnostics.html', 'tsconfig.json'])('answers 404 not_found for %s', async (file) => {
    const res = await t.http.get(`/diagnostics/${file}`);
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('the page scripts', () => {
  it('type-check as strict TypeScript with DOM types (checkJs, app/diagnostics/assets/tsconfig.json)', async () => {
    // Served as written, so nothing else compiles them; the root tsconfig has no DOM types and skips .js.
    const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
    const project = fileURLToPath(new URL('../../app/diagnostics/assets/tsconfig.json', import.meta.url));
    const res = await run(process.execPath, [tsc, '-p', project], { timeoutMs: 60_000 });
    expect({ code: res.code, output: res.stdout + res.stderr }).toEqual({ code: 0, output: '' });
  }, 60_000);
});
