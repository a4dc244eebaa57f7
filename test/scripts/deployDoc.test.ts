import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { makeTestApp, type TestApp } from '../helpers/app.js';

const deployMd = readFileSync(fileURLToPath(new URL('../../docs/deploy.md', import.meta.url)), 'utf8');

/** Every ```nginx fenced block of docs/deploy.md. */
const nginxBlocks = [...deployMd.matchAll(/```nginx\n([\s\S]*?)```/g)].map((m) => m[1]!);

/**
 * The case-insensitive regex locations (`location ~* <re> { ... return 404; ... }`) of the sample, as
 * JavaScript regexes: the paths nginx answers itself instead of proxying to Signalbox.
 */
function deniedPathPatterns(): RegExp[] {
  const out: RegExp[] = [];
  for (const block of nginxBlocks) {
    for (const m of block.matchAll(/location\s+~\*\s+(\S+)\s*\{([^}]*)\}/g)) {
      if (/return\s+40[34]\s*;|deny\s+all\s*;/.test(m[2]!)) out.push(new RegExp(m[1]!, 'i'));
    }
  }
  return out;
}

/** The path part nginx matches locations against: no query string. */
const pathOf = (url: string) => url.split('?')[0]!;

let t: TestApp;
beforeAll(() => {
  t = makeTestApp();
});
afterAll(() => t.close());

describe('docs/deploy.md nginx sample', () => {
  it('has one nginx server sample to check', () => {
    expect(nginxBlocks.length).toBeGreaterThan(0);
  });

  // Each spelling Signalbox itself answers with the metrics text must be refused by the proxy.
  it.each(['/metrics', '/METRICS', '/metrics/', '/Metrics/', '/metrics?name[]=x'])('does not proxy %s, which Signalbox answers as metrics', async (url) => {
    const res = await t.http.get(url);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(deniedPathPatterns().some((re) => re.test(pathOf(url)))).toBe(true);
  });

  it.each(['/health', '/signaling/poll', '/users/metrics', '/users/@metrics', '/sdk/signalbox.js'])('still proxies %s', (url) => {
    expect(deniedPathPatterns().some((re) => re.test(pathOf(url)))).toBe(false);
  });
});
