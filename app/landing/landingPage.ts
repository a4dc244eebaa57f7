/**
 * What `GET /` tells a person who opens the server's address: its name and version and where to go next.
 * Only the server's own paths are linked; the guides (README, docs/*.md) are rendered by the server at
 * /docs/guides, so the client guide is a link, not a file name to look up.
 */
export interface Landing {
  name: string;
  version: string;
  links: Array<{ rel: string; href: string; title: string }>;
}

export function landingFor(version: string, examples = false): Landing {
  return {
    name: 'Signalbox',
    version,
    links: [
      ...(examples ? [{ rel: 'example', href: '/examples/two-person-call/', title: 'Example app: a two-person call (open it in two browsers)' }] : []),
      { rel: 'client-guide', href: '/docs/guides/client-guide', title: 'Client guide: writing a client' },
      { rel: 'guides', href: '/docs/guides', title: 'All guides: README, SDK, protocol, deployment, security' },
      { rel: 'docs', href: '/docs', title: 'API reference (Swagger UI)' },
      { rel: 'openapi', href: '/openapi.json', title: 'OpenAPI 3.1 document' },
      { rel: 'diagnostics', href: '/diagnostics', title: 'Self-test: ICE servers, TURN relay, a loopback call' },
      { rel: 'sdk', href: '/sdk/signalbox.js', title: 'Client SDK (one ES module)' },
      { rel: 'health', href: '/health', title: 'Health check' },
    ],
  };
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The page: /diagnostics' stylesheet and icon, no script, nothing from elsewhere (its CSP forbids the rest). */
export function landingHtml(landing: Landing): string {
  const items = landing.links.map((l) => `      <li><a href="${escapeHtml(l.href)}">${escapeHtml(l.title)}</a> <code>${escapeHtml(l.href)}</code></li>`).join('\n');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(landing.name)} ${escapeHtml(landing.version)}</title>
    <link rel="stylesheet" href="/diagnostics/diagnostics.css">
    <link rel="icon" href="/diagnostics/icon.svg" type="image/svg+xml">
  </head>
  <body>
  <main class="doc">
    <h1>${escapeHtml(landing.name)}</h1>
    <p>A self-hosted signaling server for end-to-end encrypted WebRTC calls. Version <strong>${escapeHtml(landing.version)}</strong>.</p>
    <ul class="links">
${items}
    </ul>
    <p>Writing a client? Start with the <a href="/docs/guides/client-guide">client guide</a>; on a fresh clone,
    <code>npm run dev</code> serves a two-person call example.</p>
  </main>
  </body>
</html>
`;
}
