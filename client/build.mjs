// Builds the SDK: dist/signalbox.js, one ES module with openpgp inside (no imports, so a page can load it
// from /sdk/signalbox.js and npm users need nothing else), and dist/types/ (declarations, from tsc).
// esbuild because it bundles TypeScript and openpgp into one minified module in well under a second and
// installs as one prebuilt binary package; Rollup or webpack would need several plugins for the same.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { version } = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const typesOnly = process.argv.includes('--types-only');
const bundleOnly = process.argv.includes('--bundle-only');

if (!typesOnly) {
  await build({
    entryPoints: [join(here, 'src/index.ts')],
    outfile: join(here, 'dist/signalbox.js'),
    bundle: true,
    format: 'esm',
    // 'browser' picks openpgp's browser build, which uses WebCrypto (also global in Node 20) and no Node
    // built-ins; one file then runs in browsers, React Native and Node.
    platform: 'browser',
    target: 'es2020',
    minify: true,
    sourcemap: false,
    // openpgp's licence (LGPL-3.0+) and copyright notices stay in the file, at its end.
    legalComments: 'eof',
    banner: { js: `/*! @signalbox/client ${version} | MIT | bundles openpgp (LGPL-3.0-or-later): https://github.com/openpgpjs/openpgpjs */` },
    // openpgp reads navigator.userAgent without a guard (shims/userAgent.js says where and why).
    define: { 'navigator.userAgent': 'signalboxUserAgent' },
    inject: [join(here, 'shims/userAgent.js')],
    logLevel: 'warning',
  });
}

if (!bundleOnly) {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
