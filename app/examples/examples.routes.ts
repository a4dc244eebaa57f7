import { z } from 'zod';
import { notFound } from '../core/errors.js';
import { DIAGNOSTICS_CSP } from '../diagnostics/diagnostics.routes.js';
import { defineRoute, type AnyRoute } from '../http/route.js';

const TAG = 'Operations';

export interface ExampleApp {
  name: string;
  files: ReadonlyMap<string, { type: string; body: Buffer }>;
}

/**
 * The policy of /diagnostics, plus `media-src 'self' blob:` for the call's <video>: only this server's
 * files, no inline script or style; 'wasm-unsafe-eval' for the key backup's argon2 (client/README.md).
 */
export const EXAMPLES_CSP = `${DIAGNOSTICS_CSP}; media-src 'self' blob:`;

/** The app's page at /examples/<name>/ (with or without the slash) and its files beside it. */
export function exampleRoutes(app: ExampleApp): AnyRoute[] {
  const serve = (ctx: { set(name: string, value: string): void; type: string; body: unknown }, file: { type: string; body: Buffer }) => {
    ctx.set('Content-Security-Policy', EXAMPLES_CSP);
    ctx.type = file.type;
    ctx.body = file.body;
  };
  const base = `/examples/${app.name}`;
  return [
    defineRoute({
      method: 'get',
      path: base,
      tag: TAG,
      summary: `The ${app.name} example app (EXAMPLES=true only)`,
      description: 'A runnable app on the SDK, served with the same strict Content-Security-Policy as /diagnostics. See examples/README.md.',
      auth: false,
      responses: { 200: { description: 'An HTML page.' } },
      handler: (ctx) => serve(ctx, app.files.get('index.html')!),
    }),
    defineRoute({
      method: 'get',
      path: `${base}/:file`,
      tag: TAG,
      summary: `Files of the ${app.name} example app`,
      auth: false,
      params: z.strictObject({ file: z.string().max(64) }),
      responses: { 200: { description: 'A script or style sheet of the app.' } },
      errors: ['not_found'],
      handler: (ctx, { params }) => {
        const file = params.file === 'index.html' ? undefined : app.files.get(params.file);
        if (!file) throw notFound();
        serve(ctx, file);
      },
    }),
  ];
}
