import { z } from 'zod';
import { notFound } from '../core/errors.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { Guide } from './guides.js';

const TAG = 'Operations';

/** The guides load the stylesheet and icon of /diagnostics from this server, and nothing else: no script at all. */
export const GUIDES_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** A page in the look of /diagnostics (its stylesheet), with a way back to the landing page and the guides. */
export function guidePage(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · Signalbox</title>
<link rel="stylesheet" href="/diagnostics/diagnostics.css">
<link rel="icon" href="/diagnostics/icon.svg" type="image/svg+xml">
</head>
<body>
<main class="doc">
<nav class="crumbs"><a href="/">Signalbox</a> · <a href="/docs/guides">Guides</a> · <a href="/docs">API reference</a></nav>
${body}
</main>
</body>
</html>
`;
}

export function guidesRoutes(guides: Guide[]): AnyRoute[] {
  const byName = new Map(guides.map((g) => [g.name, g]));
  const index = guidePage(
    'Guides',
    `<h1>Guides</h1>\n<p>The project's Markdown documentation, rendered by this server.</p>\n<ul class="links">\n${guides
      .map((g) => `<li><a href="/docs/guides/${g.name}">${escapeHtml(g.title)}</a> <code>${escapeHtml(g.file)}</code></li>`)
      .join('\n')}\n</ul>`,
  );
  // A guide's page is built (and the guide rendered) at its first request, then kept.
  const pages = new Map<string, string>();
  const pageOf = (g: Guide) => {
    let page = pages.get(g.name);
    if (page === undefined) pages.set(g.name, (page = guidePage(g.title, g.html)));
    return page;
  };
  const html = (ctx: { set(name: string, value: string): void; type: string; body: unknown }, page: string) => {
    ctx.set('Content-Security-Policy', GUIDES_CSP);
    ctx.type = 'text/html; charset=utf-8';
    ctx.body = page;
  };
  return [
    defineRoute({
      method: 'get',
      path: '/docs/guides',
      tag: TAG,
      summary: 'The Markdown guides (README, docs/*.md), rendered',
      description: 'A list of the guides; each is rendered from the Markdown in the repository, raw HTML in it shown as text.',
      auth: false,
      responses: { 200: { description: 'An HTML page.' } },
      handler: (ctx) => html(ctx, index),
    }),
    defineRoute({
      method: 'get',
      path: '/docs/guides/:name',
      tag: TAG,
      summary: 'One guide, rendered',
      auth: false,
      params: z.strictObject({ name: z.string().max(64) }),
      responses: { 200: { description: 'An HTML page.' } },
      errors: ['not_found'],
      handler: (ctx, { params }) => {
        const guide = byName.get(params.name);
        if (!guide) throw notFound('No such guide.');
        html(ctx, pageOf(guide));
      },
    }),
  ];
}
