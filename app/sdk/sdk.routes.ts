import { unavailable } from '../core/errors.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { SdkBundle } from './sdkBundle.js';

const TAG = 'SDK';

/**
 * The URL carries no version, so any freshness lifetime would let a browser run an older SDK after an
 * upgrade (a security fix included) for that long without asking. `no-cache`: caches may keep it but
 * must revalidate every use; with the ETag an unchanged bundle costs a 304 without a body.
 */
export const SDK_CACHE_CONTROL = 'no-cache';

/** How soon to try again when the bundle is missing: an operator has to build it first. */
const MISSING_RETRY_SECONDS = 60;

export interface SdkRouteDeps {
  /** The bundle, or null while it is not built. */
  bundle: () => SdkBundle | null;
}

export function sdkRoutes(d: SdkRouteDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/sdk/signalbox.js',
      tag: TAG,
      summary: 'The client SDK as one ES module',
      operationId: 'getClientSdk',
      description:
        '`import { Signalbox } from "/sdk/signalbox.js"`: the @signalbox/client package (client/) built into one ' +
        'dependency-free ES module, openpgp included, gzipped when the client accepts it. `Cache-Control: no-cache` with a strong ETag (one per encoding): caches ' +
        'revalidate every time, so a new build reaches browsers at once, and a request with a matching If-None-Match gets 304. 503 when the server was installed without building it (`npm run build`).',
      auth: false,
      responses: {
        200: { description: 'The module, `text/javascript; charset=utf-8`.' },
        304: { description: 'Not modified: If-None-Match matched the ETag.' },
      },
      errors: ['unavailable'],
      handler: (ctx) => {
        const bundle = d.bundle();
        if (!bundle) throw unavailable('The client SDK is not built on this server: run `npm run build` there.', MISSING_RETRY_SECONDS);
        // Gzipped for clients that take it; each encoding has its own strong ETag, and caches keep them apart.
        const chosen = ctx.acceptsEncodings('gzip', 'identity') === 'gzip' ? bundle.gzip() : bundle;
        ctx.vary('Accept-Encoding');
        ctx.status = 200; // before ctx.fresh, which only compares validators on a 2xx
        ctx.etag = chosen.etag;
        ctx.set('Cache-Control', SDK_CACHE_CONTROL); // replaces the default no-store
        ctx.type = 'text/javascript; charset=utf-8';
        if (ctx.fresh) {
          ctx.status = 304;
          return;
        }
        if (chosen !== bundle) ctx.set('Content-Encoding', 'gzip');
        ctx.body = chosen.body;
      },
    }),
  ];
}
