import Router from '@koa/router';
import type { Middleware } from 'koa';
import type { Caller } from '../core/caller.js';
import { onAuthenticated } from './authenticate.js';
import type { AppContext, AppState } from './context.js';
import type { AnyRoute } from './route.js';
import { parseInput } from './validate.js';

/** What a feature folder's `createX(deps)` hands the composition root (server.ts). */
export interface Feature {
  /** Its endpoints, in the order the router tries them and the reference (OpenAPI) lists them. */
  routes: AnyRoute[];
  /** Starts its background work; returns what ends it, awaited at shutdown before the store closes. */
  start?: () => () => Promise<void>;
  /** The first step of shutdown: requests it holds open answer now, and it holds no new ones. */
  stop?: () => void;
}

export interface RouteHooks {
  /** Runs first on every route with `auth: true` (after its `before` hooks): sets `ctx.state.auth` or refuses. */
  authenticate: Middleware<AppState, AppContext>;
  /** Told of every authenticated caller before the handler runs (presence counts it as activity). */
  onAuthenticated?: (caller: Caller) => Promise<void> | undefined;
}

/**
 * The router serving `routes`, each as its steps: `before` hooks (rate limits) → authenticate and
 * `onAuthenticated` (when `auth`) → parsed input (400 validation_failed) → the handler, which sees
 * only the parsed input. The first route that matches runs, so fixed paths come before parameters.
 */
export function mountRoutes(routes: AnyRoute[], hooks: RouteHooks): Router<AppState, AppContext> {
  const router = new Router<AppState, AppContext>();
  const authChain = [hooks.authenticate, ...(hooks.onAuthenticated ? [onAuthenticated(hooks.onAuthenticated)] : [])];
  for (const route of routes) {
    const chain: Array<Middleware<AppState, AppContext>> = [...(route.before ?? [])];
    if (route.auth) chain.push(...authChain);
    chain.push(async (ctx) => {
      const [body, query, params] = parseInput([
        [route.body, ctx.request.body, ''],
        [route.query, ctx.query, 'query'],
        [route.params, ctx.params, 'params'],
      ]);
      await route.handler(ctx, { body, query, params });
    });
    // The router makes a trailing slash optional but not the other way round: `/connections/` (the
    // contract's spelling) is registered bare too, so `GET /connections` reaches it as clients expect.
    const paths = route.path.length > 1 && route.path.endsWith('/') ? [route.path, route.path.slice(0, -1)] : [route.path];
    router[route.method](paths, ...(chain as Parameters<typeof router.get>[1][]));
  }
  return router;
}
