import { z } from 'zod';
import { defineRoute, type AnyRoute } from '../http/route.js';
import { landingFor, landingHtml } from './landingPage.js';

const TAG = 'Operations';

/** The page loads nothing (no script, style, image or frame) and may not be framed. */
export const LANDING_CSP = "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const landingResponse = z.object({
  name: z.literal('Signalbox'),
  version: z.string().describe('the server package version'),
  links: z
    .array(
      z.object({
        rel: z.string().describe('what it is: docs, openapi, diagnostics, sdk, health'),
        href: z.string().describe('a path on this server'),
        title: z.string(),
      }),
    )
    .describe('where to go next'),
});

export function landingRoutes(version: string): AnyRoute[] {
  const landing = landingFor(version);
  const html = landingHtml(landing);
  return [
    defineRoute({
      method: 'get',
      path: '/',
      tag: TAG,
      operationId: 'getLanding',
      summary: 'What this server is, for people and programs',
      description:
        'An HTML page for a browser (the name, the version and links to /docs, /openapi.json, /diagnostics, ' +
        '/sdk/signalbox.js and /health), or, when `Accept` prefers `application/json`, `{name, version, links}`.',
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
