import type { Feature } from '../http/router.js';
import { loadGuides } from './guides.js';
import { guidesRoutes } from './guides.routes.js';

/** `GET /docs/guides[/<name>]`: README and docs/*.md read at start, each rendered at its first request (markdown-it, no raw HTML). */
export function createGuides(options: { root?: string } = {}): Feature {
  return { routes: guidesRoutes(loadGuides(options.root)) };
}
