import type { Feature } from '../http/router.js';
import { loadAssets } from './diagnosticsAssets.js';
import { diagnosticsRoutes } from './diagnostics.routes.js';

/** `GET /diagnostics`: the self-test page (static files, read once) that self-hosters open in a browser. */
export function createDiagnostics(options: { assetsDir?: string } = {}): Feature {
  return { routes: diagnosticsRoutes(loadAssets(options.assetsDir)) };
}
