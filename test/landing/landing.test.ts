import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { useTestApp } from '../helpers/perTest.js';

// GET /: a page for a person who opens the server's address, JSON for a program that asks for it.

const t = useTestApp();
const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version: string };
const LINKED = ['/docs', '/openapi.json', '/diagnostics', '/sdk/signalbox.js', '/health'];

describe('GET /', () => {
  it('answers a browser with an HTML page naming the server and its version, with a CSP that allows nothing to load', async () => {
    const res = await t.http.get('/').set('Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toContain('<h1>Signalbox</h1>');
    expect(res.text).toContain(pkg.version);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers.vary).toMatch(/Accept/);
    // No script, no style, no other origin: the CSP would block them anyway.
    expect(res.text).not.toMatch(/<script|<style|<link|\son\w+=|https?:\/\//);
  });

  it('links to /docs, /openapi.json, /diagnostics, the SDK and /health', async () => {
    const res = await t.http.get('/');
    const hrefs = [...res.text.matchAll(/href="([^"]+)"/g)].map((m) => m[1]);
    expect(hrefs).toEqual(LINKED);
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
