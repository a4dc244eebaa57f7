/**
 * What `GET /` tells a person who opens the server's address: its name and version and where to go next.
 * Only the server's own paths are linked: the client guide is not served (it is docs/client-guide.md in
 * the source), so it is named, not linked to an address that does not exist.
 */
export interface Landing {
  name: string;
  version: string;
  links: Array<{ rel: string; href: string; title: string }>;
}

export function landingFor(version: string): Landing {
  return {
    name: 'Signalbox',
    version,
    links: [
      { rel: 'docs', href: '/docs', title: 'API reference (Swagger UI)' },
      { rel: 'openapi', href: '/openapi.json', title: 'OpenAPI 3.1 document' },
      { rel: 'diagnostics', href: '/diagnostics', title: 'Self-test: ICE servers, TURN relay, a loopback call' },
      { rel: 'sdk', href: '/sdk/signalbox.js', title: 'Client SDK (one ES module)' },
      { rel: 'health', href: '/health', title: 'Health check' },
    ],
  };
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/** The page: no script, no style, nothing from elsewhere, so its Content-Security-Policy can forbid all of it. */
export function landingHtml(landing: Landing): string {
  const items = landing.links.map((l) => `      <li><a href="${escapeHtml(l.href)}">${escapeHtml(l.title)}</a> <code>${escapeHtml(l.href)}</code></li>`).join('\n');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>${escapeHtml(landing.name)} ${escapeHtml(landing.version)}</title>
  </head>
  <body>
    <h1>${escapeHtml(landing.name)}</h1>
    <p>A self-hosted signaling server for end-to-end encrypted WebRTC calls. Version <strong>${escapeHtml(landing.version)}</strong>.</p>
    <ul>
${items}
    </ul>
    <p>Writing a client? Start with <code>docs/client-guide.md</code> in the Signalbox source.</p>
  </body>
</html>
`;
}
