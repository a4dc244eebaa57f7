import type { TestApp } from './app.js';
import { bearer, signIn, type TestUser } from './factories.js';

/** POST /connections/request from `from` to `to`, answered as is. */
export function sendRequest(t: TestApp, from: TestUser, to: { username: string }, message?: string) {
  return t.http
    .post('/connections/request')
    .set(bearer(from))
    .send({ username: to.username, ...(message === undefined ? {} : { message }) });
}

/** POST /connections/respond by `recipient` to the request `from` sent them. */
export function respond(t: TestApp, recipient: TestUser, from: { username: string }, action: 'accept' | 'reject') {
  return t.http.post('/connections/respond').set(bearer(recipient)).send({ username: from.username, action });
}

/** DELETE /connections/{username} by `user`. */
export function removeConnection(t: TestApp, user: TestUser, other: { username: string }) {
  return t.http.delete(`/connections/${other.username}`).set(bearer(user));
}

/** GET /connections/ by `user`: the usernames of their connections. */
export async function connectionNames(t: TestApp, user: TestUser): Promise<string[]> {
  const res = await t.http.get('/connections/').set(bearer(user));
  if (res.status !== 200) throw new Error(`list failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body.connections as Array<{ username: string }>).map((c) => c.username);
}

/** GET /connections/pending by `user`, as two lists of `from→to` strings for compact assertions. */
export async function pendingPairs(t: TestApp, user: TestUser): Promise<{ incoming: string[]; outgoing: string[] }> {
  const res = await t.http.get('/connections/pending').set(bearer(user));
  if (res.status !== 200) throw new Error(`pending failed: ${res.status} ${JSON.stringify(res.body)}`);
  const pairs = (list: Array<{ from: string; to: string }>) => list.map((r) => `${r.from}→${r.to}`);
  return { incoming: pairs(res.body.incoming), outgoing: pairs(res.body.outgoing) };
}

/** A connection exactly as the API presents it (list, accept answers) when its member uploaded no key, for `toEqual`. */
export function presentedConnection(username: string, since: string, presence: { online: boolean; lastSeen: string | null }) {
  return { username, since, presence, pgp: null };
}

/** Connects `a` and `b` through the API (a asks, b accepts); throws unless both steps succeed. */
export async function connect(t: TestApp, a: TestUser, b: TestUser): Promise<void> {
  const asked = await sendRequest(t, a, b);
  if (asked.status !== 201) throw new Error(`request failed: ${asked.status} ${JSON.stringify(asked.body)}`);
  const accepted = await respond(t, b, a, 'accept');
  if (accepted.status !== 200) throw new Error(`accept failed: ${accepted.status} ${JSON.stringify(accepted.body)}`);
}

/**
 * Signs each user in again and swaps in the new tokens: after the clock jumps days ahead (request
 * expiry) their access and refresh tokens have long expired.
 */
export async function signInAgain(t: TestApp, ...users: TestUser[]): Promise<void> {
  for (const user of users) {
    const { accessToken, refreshToken } = await signIn(t, user);
    Object.assign(user, { accessToken, refreshToken });
  }
}
