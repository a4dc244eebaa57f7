import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { useTestApp } from '../helpers/perTest.js';

// GET /: a page for a person who opens the server's address, JSON for a program that asks for it.

const t = useTestApp();
const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
const LINKED = ['/docs/guides/client-guide', '/docs/guides', '/docs', '/openapi.json', '/diagnostics', '/sdk/signalbox.js', '/health'];
/** The page's own links (its list and the client-guide sentence), not the stylesheet and icon in <head>. */
const bodyLinks = (html: string) => [...html.slice(html.indexOf('<body>')).matchAll(/href="([^"]+)"/g)].map((m) => m[1]);

describe('GET /', () => {
  it("answers a browser with an HTML page naming the server and its version, styled by /diagnostics' sheet, with a CSP that allows no script", async () => {
    const res = await t.http.get('/').set('Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toContain('<h1>Signalbox</h1>');
    expect(res.text).toContain(pkg.version);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).toContain("style-src 'self'");
    expect(res.headers['content-security-policy']).not.toContain('script-src');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers.vary).toMatch(/Accept/);
    expect(res.text).toContain('<link rel="stylesheet" href="/diagnostics/diagnostics.css">');
    expect((await t.http.get('/diagnostics/diagnostics.css')).status).toBe(200);
    // No script, no inline style, no other origin: the CSP would block them anyway.
    expect(res.text).not.toMatch(/<script|<style|\sstyle=|\son\w+=|https?:\/\//);
  });

  it('links to the client guide, the guides, /docs, /openapi.json, /diagnostics, the SDK and /health', async () => {
    const res = await t.http.get('/');
    expect(bodyLinks(res.text)).toEqual([...LINKED, '/docs/guides/client-guide']);
  });

  it('every page it links to exists on this server', async () => {
    for (const href of LINKED) {
      const res = await t.http.get(href);
      expect([href, res.status]).toEqual([href, 200]);
    }
  });

  it('answers {name, version, links} as JSON when Accept asks for application/json', async () => {
    const res = await t.http.get('/').set('Accept', 'application/json');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    expect(res.body.name).toBe('Signalbox');
    expect(res.body.version).toBe(pkg.version);
    expect(res.body.links.map((l: { href: string }) => l.href)).toEqual(LINKED);
  });

  it('is an HTML page without an Accept header, as curl sends */*', async () => {
    const res = await t.http.get('/').set('Accept', '*/*');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('is declared in the OpenAPI document', async () => {
    const doc = (await t.http.get('/openapi.json')).body as { paths: Record<string, { get?: { operationId?: string } }> };
    expect(doc.paths['/']?.get?.operationId).toBe('getLanding');
  });

  it('still answers an unknown path with the JSON 404', async () => {
    const res = await t.http.get('/no-such-page');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});
