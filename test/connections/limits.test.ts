import { beforeEach, describe, expect, it } from '@jest/globals';
import { makeTestApp } from '../helpers/app.js';
import { connectionNames, pendingPairs, removeConnection, respond, sendRequest, signInAgain } from '../helpers/connections.js';
import { useTestApp, withUsers } from '../helpers/perTest.js';
import { expectApiError } from '../http/errorShape.js';

const DAY = 86_400;
const TTL = 30 * DAY; // CONNECTION_REQUEST_TTL default

describe('request expiry (CONNECTION_REQUEST_TTL)', () => {
  const t = useTestApp();
  const { alice, bob } = withUsers(t, 'alice', 'bob');
  beforeEach(async () => {
    await sendRequest(t, alice, bob);
  });

  it('keeps the request pending one second before it expires', async () => {
    t.clock.advance(TTL - 1);
    await signInAgain(t, alice, bob);
    expect(await pendingPairs(t, bob)).toEqual({ incoming: ['alice→bob'], outgoing: [] });
  });

  it('drops an expired request from both pending lists', async () => {
    t.clock.advance(TTL);
    await signInAgain(t, alice, bob);
    expect(await pendingPairs(t, bob)).toEqual({ incoming: [], outgoing: [] });
    expect(await pendingPairs(t, alice)).toEqual({ incoming: [], outgoing: [] });
  });

  it('does not let the recipient accept an expired request', async () => {
    t.clock.advance(TTL);
    await signInAgain(t, alice, bob);
    expectApiError(await respond(t, bob, alice, 'accept'), 404, 'not_found');
    expect(await connectionNames(t, bob)).toEqual([]);
  });

  it('does not let the recipient reject an expired request', async () => {
    t.clock.advance(TTL);
    await signInAgain(t, alice, bob);
    expectApiError(await respond(t, bob, alice, 'reject'), 404, 'not_found');
  });

  it('lets the sender ask again once it expired, with a fresh expiry', async () => {
    t.clock.advance(TTL);
    await signInAgain(t, alice, bob);
    const res = await sendRequest(t, alice, bob);
    expect(res.status).toBe(201);
    expect(res.body.request.createdAt).toBe(new Date(t.clock.now()).toISOString());
  });

  it('does not count an expired request as crossing: the other side gets a new request of its own', async () => {
    t.clock.advance(TTL);
    await signInAgain(t, alice, bob);
    const res = await sendRequest(t, bob, alice);
    expect(res.status).toBe(201);
    expect(await pendingPairs(t, alice)).toEqual({ incoming: ['bob→alice'], outgoing: [] });
  });

  it('answers 404 to cancelling an expired request', async () => {
    t.clock.advance(TTL);
    await signInAgain(t, alice, bob);
    expectApiError(await removeConnection(t, alice, bob), 404, 'not_found');
  });

  it('never expires an accepted connection', async () => {
    await respond(t, bob, alice, 'accept');
    t.clock.advance(10 * TTL);
    await signInAgain(t, alice, bob);
    expect(await connectionNames(t, alice)).toEqual(['bob']);
  });

  it('is purged by purgeExpired, and only once expired', async () => {
    expect(await t.store.connections.purgeExpired(new Date(t.clock.now()))).toBe(0);
    t.clock.advance(TTL);
    expect(await t.store.connections.purgeExpired(new Date(t.clock.now()))).toBe(1);
  });
});

describe('pending request cap (CONNECTION_PENDING_MAX)', () => {
  const t = useTestApp({ env: { CONNECTION_PENDING_MAX: '3' } });
  const { alice, bob, carol, dave, erin } = withUsers(t, 'alice', 'bob', 'carol', 'dave', 'erin');
  const others = [bob, carol, dave, erin];

  /** Alice asks bob, carol and dave, a minute apart: she is at the cap. */
  const fill = async () => {
    for (const u of others.slice(0, 3)) {
      expect((await sendRequest(t, alice, u)).status).toBe(201);
      t.clock.advance(60);
    }
  };

  it('defaults to 100', async () => {
    const plain = makeTestApp();
    expect(plain.config.connectionPendingMax).toBe(100);
    await plain.close();
  });

  it('answers 429 rate_limited past the cap', async () => {
    await fill();
    expectApiError(await sendRequest(t, alice, others[3]!), 429, 'rate_limited');
  });

  it('sends Retry-After: seconds until her oldest request lapses', async () => {
    await fill(); // the oldest was sent 3 minutes ago
    const res = await sendRequest(t, alice, others[3]!);
    expect(res.headers['retry-after']).toBe(String(30 * DAY - 180));
  });

  it('stores nothing for the refused request', async () => {
    await fill();
    await sendRequest(t, alice, others[3]!);
    expect((await pendingPairs(t, others[3]!)).incoming).toEqual([]);
  });

  it('frees a place when one of her requests is cancelled', async () => {
    await fill();
    await removeConnection(t, alice, others[0]!);
    expect((await sendRequest(t, alice, others[3]!)).status).toBe(201);
  });

  it('frees a place when one of her requests is accepted', async () => {
    await fill();
    await respond(t, others[1]!, alice, 'accept');
    expect((await sendRequest(t, alice, others[3]!)).status).toBe(201);
  });

  it('frees a place when her oldest request expires', async () => {
    await fill();
    t.clock.advance(TTL - 180);
    await signInAgain(t, alice);
    expect((await sendRequest(t, alice, others[3]!)).status).toBe(201);
  });

  it('does not limit accepting a request through a crossing request', async () => {
    await fill();
    await sendRequest(t, others[3]!, alice);
    expect((await sendRequest(t, alice, others[3]!)).status).toBe(200);
  });

  it('counts per sender: others can still ask her', async () => {
    await fill();
    expect((await sendRequest(t, others[3]!, alice)).status).toBe(201);
  });

  it('does not count requests she received', async () => {
    await sendRequest(t, others[0]!, alice);
    await sendRequest(t, others[1]!, alice);
    await sendRequest(t, others[2]!, alice);
    expect((await sendRequest(t, alice, others[3]!)).status).toBe(201);
  });
});

describe('CONNECTION_PENDING_MAX configuration', () => {
  it.each(['0', '-1', 'ten', '1.5'])('refuses %s at start', (value) => {
    expect(() => makeTestApp({ env: { CONNECTION_PENDING_MAX: value } })).toThrow(/^CONNECTION_PENDING_MAX: /);
  });
});
