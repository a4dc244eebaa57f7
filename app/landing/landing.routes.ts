import { z } from 'zod';
import { defineRoute, type AnyRoute } from '../http/route.js';
import { landingFor, landingHtml } from './landingPage.js';

const TAG = 'Operations';

/** The page loads the stylesheet and icon of /diagnostics from this server and nothing else (no script), and may not be framed. */
export const LANDING_CSP = "default-src 'none'; style-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const landingResponse = z.object({
  name: z.literal('Signalbox'),
  version: z.string().describe('the server package version'),
  links: z
    .array(
      z.object({
        rel: z.string().describe('what it is: docs, guides, client-guide, openapi, diagnostics, sdk, health, example'),
        href: z.string().describe('a path on this server'),
        title: z.string(),
      }),
    )
    .describe('where to go next'),
});

export function landingRoutes(version: string, examples = false): AnyRoute[] {
  const landing = landingFor(version, examples);
  const html = landingHtml(landing);
  return [
    defineRoute({
      method: 'get',
      path: '/',
      tag: TAG,
      operationId: 'getLanding',
      summary: 'What this server is, for people and programs',
      description:
        'An HTML page for a browser (the name, the version and links to /docs, the rendered guides under /docs/guides, ' +
        '/openapi.json, /diagnostics, /sdk/signalbox.js, /health and, with EXAMPLES=true, the example app), styled ' +
        'like /diagnostics, or, when `Accept` prefers `application/json`, `{name, version, links}`.',
      auth: false,
      responses: { 200: { description: 'The landing page (text/html), or its content as JSON.', schema: landingResponse } },
      handler: (ctx) => {
        ctx.vary('Accept');
        if (ctx.accepts('html', 'json') === 'json') {
          ctx.body = landing;
          return;
        }
        ctx.set('Content-Security-Policy', LANDING_CSP);
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = html;
      },
    }),
  ];
}
