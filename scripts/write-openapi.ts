/**
 * Writes the OpenAPI document a freshly built server serves at /openapi.json to a file (default
 * dist/openapi.json), for the tools API users run on it: `npm run docs:openapi -- <file>`. CI lints that
 * file with @redocly/cli and generates types from it with openapi-typescript (.ci/run).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadOpenApi, repoRoot } from './gen-api-docs.js';

/** Writes the document to `file` as indented JSON; returns the absolute path written. */
export async function writeOpenApi(file: string): Promise<string> {
  const path = resolve(file);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify(await loadOpenApi(), null, 2)}\n`);
  return path;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeOpenApi(process.argv[2] ?? join(repoRoot(), 'dist', 'openapi.json'))
    .then((path) => process.stdout.write(`wrote ${path}\n`))
    .catch((err: unknown) => {
      process.stderr.write(`write-openapi: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
}
