import { afterEach, describe, expect, it } from '@jest/globals';
import { makeTestApp, type TestApp } from '../helpers/app.js';

let t: TestApp;
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
afterEach(() => t?.close());

describe('GET /examples/two-person-call/', () => {
  it('is not served unless EXAMPLES is true', async () => {
    t = makeTestApp();
    expect((await t.http.get('/examples/two-person-call/')).status).toBe(404);
    expect((await t.http.get('/examples/two-person-call/app.js')).status).toBe(404);
  });

  it('serves the page and its files same-origin, under the strict policy of /diagnostics', async () => {
    t = makeTestApp({ env: { EXAMPLES: 'true' } });
    for (const path of ['/examples/two-person-call/', '/examples/two-person-call']) {
      const page = await t.http.get(path);
      expect(page.status).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.text).toContain('<script type="module" src="/examples/two-person-call/app.js">');
      expect(page.headers['content-security-policy']).toMatch(/script-src 'self' 'wasm-unsafe-eval';.*media-src 'self' blob:/);
    }
    const script = await t.http.get('/examples/two-person-call/app.js');
    expect(script.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(script.text).toContain("from '/sdk/signalbox.js'");
    expect((await t.http.get('/examples/two-person-call/style.css')).headers['content-type']).toBe('text/css; charset=utf-8');
  });

  it('serves only the files of the app, nothing else of the checkout', async () => {
    t = makeTestApp({ env: { EXAMPLES: 'true' } });
    for (const path of ['/examples/two-person-call/index.html', '/examples/two-person-call/..%2F..%2Fpackage.json', '/examples/two-person-call/README.md']) {
      const res = await t.http.get(path);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });
});
