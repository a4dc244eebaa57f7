import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The built client SDK (client/dist/signalbox.js) in memory, with its strong ETag. */
export interface SdkBundle {
  body: Buffer;
  /** A strong validator: the content's SHA-256, quoted. */
  etag: string;
}

/**
 * Where `npm install` / `npm run build` put the bundle: client/dist/ of the project, found by walking up
 * from this file (app/sdk in source, dist/app/sdk when built) to the package.json named signalbox.
 */
export function defaultBundlePath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'signalbox') break;
    dir = dirname(dir);
  }
  return join(dir, 'client', 'dist', 'signalbox.js');
}

/** The bundle at `path`, or null when it is not there (not built). */
export function readBundle(path: string): SdkBundle | null {
  let body: Buffer;
  try {
    body = readFileSync(path);
  } catch {
    return null;
  }
  return { body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` };
}
