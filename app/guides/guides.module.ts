import type { Feature } from '../http/router.js';
import { loadGuides, type Guide } from './guides.js';
import { guidesRoutes } from './guides.routes.js';

/**
 * The checkout's own guides, rendered by the first createGuides() of the process and reused by later
 * ones: the server builds one app, but a process that builds many (the tests build one per test) would
 * otherwise render the same Markdown each time, about a tenth of a second of CPU.
 */
let checkoutGuides: Guide[] | undefined;

/** `GET /docs/guides[/<name>]`: README and docs/*.md rendered once at start (markdown-it, no raw HTML). */
export function createGuides(options: { root?: string } = {}): Feature {
  const guides = options.root === undefined ? (checkoutGuides ??= loadGuides()) : loadGuides(options.root);
  return { routes: guidesRoutes(guides) };
}
