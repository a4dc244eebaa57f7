import type { Feature } from '../http/router.js';
import { VERSION } from '../lib/version.js';
import { landingRoutes } from './landing.routes.js';

/** `GET /`: a small page naming the server and linking to its docs and self-test, or the same as JSON. */
export function createLanding(options: { version?: string; examples?: boolean } = {}): Feature {
  return { routes: landingRoutes(options.version ?? VERSION, options.examples ?? false) };
}
