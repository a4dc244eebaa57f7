import { createHash } from 'node:crypto';
import { constants, gzipSync } from 'node:zlib';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One representation of the bundle: its bytes and a strong validator (their SHA-256, quoted). */
export interface SdkRepresentation {
  body: Buffer;
  etag: string;
}

/**
 * The built client SDK (client/dist/signalbox.js) in memory, as is and gzipped: mostly openpgp, it
 * shrinks to about a third (412 -> 141 KB). Compressed once, on the first request that takes gzip
 * (~20 ms at level 9: not worth paying at every start, nor again per download), then kept.
 */
export interface SdkBundle extends SdkRepresentation {
  gzip(): SdkRepresentation;
}

const representation = (body: Buffer): SdkRepresentation => ({ body, etag: `"${createHash('sha256').update(body).digest('base64url')}"` });

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
  let gzipped: SdkRepresentation | undefined;
  return { ...representation(body), gzip: () => (gzipped ??= representation(gzipSync(body, { level: constants.Z_BEST_COMPRESSION }))) };
}
