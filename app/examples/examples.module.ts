import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Feature } from '../http/router.js';
import { exampleRoutes, type ExampleApp } from './examples.routes.js';

/** The files of each example app, by the name it is served under; anything else in its folder is not served. */
const APPS: Record<string, Record<string, string>> = {
  'two-person-call': {
    'index.html': 'text/html; charset=utf-8',
    'app.js': 'text/javascript; charset=utf-8',
    'ui.js': 'text/javascript; charset=utf-8',
    'style.css': 'text/css; charset=utf-8',
  },
};

/** The checkout's examples/ folder, found by walking up from here to the package.json named signalbox (as diagnostics does). */
export function defaultExamplesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'signalbox') break;
    dir = dirname(dir);
  }
  return join(dir, 'examples');
}

/** Reads every file of every example once; a missing one fails the start, as for /diagnostics. */
export function loadExamples(dir: string = defaultExamplesDir()): ExampleApp[] {
  return Object.entries(APPS).map(([name, files]) => ({
    name,
    files: new Map(Object.entries(files).map(([file, type]) => [file, { type, body: readFileSync(join(dir, name, file)) }])),
  }));
}

/** `GET /examples/<app>/`: the runnable example apps, same-origin with the API and the SDK (EXAMPLES=true). */
export function createExamples(options: { dir?: string } = {}): Feature {
  return { routes: loadExamples(options.dir).flatMap(exampleRoutes) };
}
