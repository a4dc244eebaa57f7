import type { Feature } from '../http/router.js';
import { loadGuides, type Guide } from './guides.js';
import { guidesRoutes } from './guides.routes.js';

/**
 * `GET /docs/guides[/<name>]`: README and docs/*.md rendered once at start (markdown-it, no raw HTML), or
 * the `guides` given, already rendered by loadGuides (rendering them is most of what building an app costs).
 */
export function createGuides(options: { root?: string; guides?: Guide[] } = {}): Feature {
  return { routes: guidesRoutes(options.guides ?? loadGuides(options.root)) };
}
