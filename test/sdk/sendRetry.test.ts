import { describe, expect, it } from '@jest/globals';
import type { FetchLike } from '../../client/src/index.js';
import { PauseProbe, useSdkHarness } from './harness.js';

// docs/protocol.md "HTTP answers": a send answered 503 is tried again after the Retry-After the server
// gave, not after the SDK's own backoff step. The server here is real; only the first send is answered
// 503 by a fetch wrapper, as an overloaded server would. The backoff is set to a minute, far from
// Retry-After (1 s); the SDK's waits are stood in for (PauseProbe), so the test reads the wait asked for
// instead of spending it.

const h = useSdkHarness();

describe('send after 503', () => {
  it('waits Retry-After, then the same send (same idempotency key) goes through', async () => {
    const sends: string[] = [];
    let refused = false;
    const fetchWith503: FetchLike = async (url, init) => {
      if (init?.method === 'POST' && new URL(url).pathname === '/signaling/send') {
        sends.push(JSON.parse(init.body as string).idempotencyKey as string);
        if (!refused) {
          refused = true;
          return new Response(JSON.stringify({ error: { code: 'unavailable', message: 'busy' } }), {
            status: 503,
            headers: { 'content-type': 'application/json', 'retry-after': '1' },
          });
        }
      }
      return await fetch(url, init);
    };
    const pauses = new PauseProbe({ immediate: true });
    const alice = await h.user('alice', { fetch: fetchWith503, retry: { baseMs: 60_000, maxMs: 60_000 }, pause: pauses.pause });
    const bob = await h.user('bob');
    await h.connect(alice, bob);
    const result = await alice.send(bob.user!.username, 'custom', 'hello');
    expect(result.devices).toBe(1);
    expect(sends).toHaveLength(2);
    expect(sends[1]).toBe(sends[0]);
    expect(pauses.asked).toEqual([1000]); // Retry-After, not the minute of backoff
  });
});
