import { z } from 'zod';
import { notFound } from '../core/errors.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { Asset } from './diagnosticsAssets.js';

const TAG = 'Operations';

/**
 * Only this server's own files: no inline script or style, nothing from another origin. WebRTC to the
 * TURN server is not governed by CSP; the SDK's requests go to 'self'. 'wasm-unsafe-eval' lets the page
 * compile WebAssembly (and nothing else: no eval of JavaScript): the SDK's OpenPGP runs argon2 for the
 * key backup as WebAssembly, which `script-src 'self'` alone refuses.
 */
export const DIAGNOSTICS_CSP =
  "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export function diagnosticsRoutes(assets: ReadonlyMap<string, Asset>): AnyRoute[] {
  const serve = (ctx: { set(name: string, value: string): void; type: string; body: unknown }, asset: Asset) => {
    ctx.set('Content-Security-Policy', DIAGNOSTICS_CSP);
    ctx.type = asset.type;
    ctx.body = asset.body;
  };
  return [
    defineRoute({
      method: 'get',
      path: '/diagnostics',
      tag: TAG,
      summary: 'A self-test page for self-hosters',
      description:
        'Sign in (or use a throwaway account, deleted afterwards), then the page checks GET /signaling/ice-servers, ' +
        'gathers a relay candidate from the TURN server and makes a relay-only call between two peer connections in ' +
        'the page, timing its setup and data-channel round trip. Each check is an element with `data-check` ' +
        '(`ice-servers`, `turn-relay`, `loopback-call`) and `data-status` (`running`, `pass`, `fail`), with a sentence ' +
        "that says what to fix when it fails. A second button walks through a user's second device with two throwaway " +
        'accounts (deleted afterwards): `device-link` (the key by link code), `key-backup` (the key from the passphrase backup), ' +
        '`safety-number` (both sides show the same 60 digits) and `key-change` (a changed key is refused until accepted). ' +
        'Uses /sdk/signalbox.js; served with a strict Content-Security-Policy.',
      auth: false,
      responses: { 200: { description: 'An HTML page.' } },
      handler: (ctx) => serve(ctx, assets.get('diagnostics.html')!),
    }),
    defineRoute({
      method: 'get',
      path: '/diagnostics/:file',
      tag: TAG,
      summary: 'Files of the diagnostics page',
      auth: false,
      params: z.strictObject({ file: z.string().max(64) }),
      responses: { 200: { description: 'A script or style sheet of the page.' } },
      errors: ['not_found'],
      handler: (ctx, { params }) => {
        // The page itself has its own URL; only its parts are served here.
        const asset = params.file === 'diagnostics.html' ? undefined : assets.get(params.file);
        if (!asset) throw notFound();
        serve(ctx, asset);
      },
    }),
  ];
}
