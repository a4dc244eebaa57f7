import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One file of the diagnostics page, held in memory. */
export interface Asset {
  type: string;
  body: Buffer;
}

/** Every file the page is made of, by the name it is served under (/diagnostics/<name>). */
const FILES: Record<string, string> = {
  'diagnostics.html': 'text/html; charset=utf-8',
  'diagnostics.js': 'text/javascript; charset=utf-8',
  'webrtcChecks.js': 'text/javascript; charset=utf-8',
  'secondDevice.js': 'text/javascript; charset=utf-8',
  'diagnostics.css': 'text/css; charset=utf-8',
  // Its own icon, so the browser does not ask for /favicon.ico (a 404 in the console of a self-test page).
  'icon.svg': 'image/svg+xml',
};

/**
 * app/diagnostics/assets/ of this installation, found by walking up from this file (app/diagnostics in
 * source, dist/app/diagnostics when built) to the package.json named signalbox: tsc does not copy
 * these browser files into dist/, and they are served exactly as written.
 */
export function defaultAssetsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'signalbox') break;
    dir = dirname(dir);
  }
  return join(dir, 'app', 'diagnostics', 'assets');
}

/** Reads every file of the page once; a missing one fails the start (it ships in the repository, unlike a build). */
export function loadAssets(dir: string = defaultAssetsDir()): ReadonlyMap<string, Asset> {
  return new Map(Object.entries(FILES).map(([name, type]) => [name, { type, body: readFileSync(join(dir, name)) }]));
}
