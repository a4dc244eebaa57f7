import type { Platform } from '../core/platform.js';
import type { Feature } from '../http/router.js';
import { defaultBundlePath, readBundle, type SdkBundle } from './sdkBundle.js';
import { sdkRoutes } from './sdk.routes.js';

export interface SdkModuleDeps extends Pick<Platform, 'logger'> {
  /** Default: client/dist/signalbox.js of this installation. */
  bundlePath?: string;
}

/**
 * `GET /sdk/signalbox.js`. The bundle is read once; when it is missing (installed without building)
 * the start says so in one warning and the route answers 503 until it is built, rather than the server
 * refusing to start for the sake of one file.
 */
export function createSdk(d: SdkModuleDeps): Feature {
  const path = d.bundlePath ?? defaultBundlePath();
  let bundle: SdkBundle | null = readBundle(path);
  if (!bundle) d.logger.warn({ path }, 'client SDK bundle missing: GET /sdk/signalbox.js answers 503 until `npm run build` makes it');
  return {
    // Read again while missing, so building it does not need a restart; kept once found.
    routes: sdkRoutes({ bundle: () => (bundle ??= readBundle(path)) }),
  };
}
