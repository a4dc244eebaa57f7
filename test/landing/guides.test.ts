import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { linkTarget, loadGuides, slug } from '../../app/guides/guides.js';
import { useTestApp } from '../helpers/perTest.js';

// GET /docs/guides: README and docs/*.md rendered by the server (markdown-it, raw HTML shown as text).

const t = useTestApp();

describe('GET /docs/guides', () => {
  it('lists the guides, each a working link, under a CSP that allows no script', async () => {
    const res = await t.http.get('/docs/guides');
    expect(res.status).toBe(200);
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    );
    const hrefs = [...res.text.matchAll(/href="(\/docs\/guides\/[^"]+)"/g)].map((m) => m[1]!);
    expect(hrefs).toEqual(expect.arrayContaining(['/docs/guides/readme', '/docs/guides/client-guide', '/docs/guides/deploy', '/docs/guides/protocol']));
    for (const href of hrefs) expect([href, (await t.http.get(href)).status]).toEqual([href, 200]);
  });

  it('renders the client guide as HTML with GitHub-style heading ids, in the look of /diagnostics', async () => {
    const res = await t.http.get('/docs/guides/client-guide');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toContain('<link rel="stylesheet" href="/diagnostics/diagnostics.css">');
    expect(res.text).toMatch(/<h[12] id="[a-z0-9-]+">/);
    expect(res.text).not.toMatch(/<script/);
  });

  it('turns links between guides into links between their pages, anchors kept', async () => {
    const readme = (await t.http.get('/docs/guides/readme')).text;
    expect(readme).toContain('href="/docs/guides/deploy#1-nodejs-22-lts-and-the-code"');
    expect(readme).toContain('href="/docs/guides/sdk"');
    const deploy = (await t.http.get('/docs/guides/deploy')).text;
    expect(deploy).toContain('id="1-nodejs-22-lts-and-the-code"');
  });

  it('answers an unknown guide with the JSON 404', async () => {
    for (const name of ['nope', '..%2Fpackage.json', 'constructor']) {
      const res = await t.http.get(`/docs/guides/${name}`);
      expect(res.status).toBe(404);
      expect(res.body.error.code).toBe('not_found');
    }
  });

  it('leaves /docs, the API reference, as it was', async () => {
    const res = await t.http.get('/docs');
    expect(res.status).toBe(200);
    expect(res.text).toContain('/docs/assets/');
  });
});

describe('rendering a guide', () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));
  const render = (markdown: string) => {
    const root = mkdtempSync(join(tmpdir(), 'signalbox-guides-'));
    dirs.push(root);
    mkdirSync(join(root, 'docs'));
    writeFileSync(join(root, 'docs', 'security.md'), markdown);
    return loadGuides(root).find((g) => g.name === 'security')!.html;
  };

  it('shows raw HTML in the Markdown as text, never as markup', () => {
    const html = render('Hello <script>alert(1)</script> <img src=x onerror=alert(1)>\n\n<iframe src="https://evil.example"></iframe>\n');
    expect(html).not.toMatch(/<script|<img|<iframe/);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
  });

  it('leaves out a paragraph that is only an HTML comment (the markers of a generated table), and shows any other as text', () => {
    const html = render('<!-- limits:start (generated) -->\n\n| a |\n|---|\n| 1 |\n\n<!-- limits:end -->\n\nSee <!-- inline --> this.\n\n```\n<!-- in code -->\n```\n');
    expect(html).not.toContain('limits:start');
    expect(html).not.toContain('limits:end');
    expect(html).toContain('<table>');
    expect(html).toContain('See &lt;!-- inline --&gt; this.');
    expect(html).toContain('<code>&lt;!-- in code --&gt;\n</code>');
  });

  it('refuses javascript: links, and shows repository files that are not served as text', () => {
    const html = render('[x](javascript:alert(1)) [nginx](../deploy/nginx/) [site](https://example.org/)\n');
    expect(html).not.toMatch(/href="javascript:/i); // markdown-it leaves it as plain text
    expect(html).toContain('<span class="repo-path" title="../deploy/nginx/ in the Signalbox repository">nginx</span>');
    expect(html).toContain('<a href="https://example.org/">site</a>');
  });

  it('serves only the guides a checkout holds (an image without docs/ serves fewer)', () => {
    const root = mkdtempSync(join(tmpdir(), 'signalbox-guides-'));
    dirs.push(root);
    writeFileSync(join(root, 'README.md'), '# Hi\n');
    expect(loadGuides(root).map((g) => g.name)).toEqual(['readme']);
  });

  it('resolves links relative to the guide and slugs headings as GitHub does', () => {
    expect(linkTarget('docs/deploy.md#2-the-service', 'README.md')).toBe('/docs/guides/deploy#2-the-service');
    expect(linkTarget('../client/README.md', 'docs/protocol.md')).toBe('/docs/guides/sdk');
    expect(linkTarget('protocol-vectors/', 'docs/protocol.md')).toBeNull();
    expect(slug('1. Node.js 22 LTS and the code')).toBe('1-nodejs-22-lts-and-the-code');
    expect(slug('Check it: /diagnostics')).toBe('check-it-diagnostics');
  });
});
