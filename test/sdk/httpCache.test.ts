import { expect, it } from '@jest/globals';
import type { FetchLike, RequestInitLike } from '../../client/src/index.js';
import { useSdkHarness } from './harness.js';

// client/src/http.ts: Chromium's HTTP cache lets one request per URL through at a time and holds an
// identical one for up to 20 s, so two devices' long-polls in one browser (the same
// `/signaling/poll?wait=25`) queued behind each other. Every SDK request bypasses the cache.

const h = useSdkHarness();

it('asks fetch for cache: no-store on every request, polls included', async () => {
  const seen: Array<{ path: string; init: RequestInitLike | undefined }> = [];
  const recording: FetchLike = (url, init) => {
    seen.push({ path: new URL(url).pathname, init });
    return fetch(url, init);
  };
  const ana = await h.user('ana', { fetch: recording, pollWaitSeconds: 0 });
  const polled = new Promise<void>((resolve) => ana.on('state', (s) => s === 'online' && resolve()));
  ana.start();
  await polled;
  expect(seen.map((r) => r.path)).toEqual(expect.arrayContaining(['/auth/register', '/users/me', '/auth/pgp-key', '/signaling/poll']));
  for (const r of seen) expect(r.init?.cache).toBe('no-store');
});
