import type { Platform } from '../core/platform.js';
import type { AnyRoute } from '../http/route.js';
import type { Feature } from '../http/router.js';
import { VERSION } from '../lib/version.js';
import { createMetrics, type Metrics } from './metrics.js';
import { buildOpenApi } from './openapi.js';
import { opsRoutes } from './ops.routes.js';

export interface OpsModuleDeps extends Pick<Platform, 'config' | 'store' | 'clock'> {
  /** Process-wide metrics (CPU, memory, event loop): on in main.ts, off in tests. */
  processMetrics: boolean;
  /** Every route of the app, for the OpenAPI document; asked on the first request for it. */
  allRoutes: () => AnyRoute[];
}

export interface OpsFeature extends Feature {
  /** The app's metrics: its registry for other features' counters, its middleware for every request. */
  metrics: Metrics;
}

/** `/health`, `/metrics`, `/openapi.json` and the rendered reference. */
export function createOps(d: OpsModuleDeps): OpsFeature {
  const { clock } = d;
  const metrics = createMetrics({ processMetrics: d.processMetrics });
  let openApiDoc: unknown;
  return {
    routes: opsRoutes({
      store: d.store,
      metrics,
      metricsToken: d.config.metricsToken,
      metricsPublic: d.config.metricsPublic,
      version: VERSION,
      startedAt: clock.now(),
      now: () => clock.now(),
      openApi: () => (openApiDoc ??= buildOpenApi(d.allRoutes(), { version: VERSION })),
    }),
    metrics,
  };
}
