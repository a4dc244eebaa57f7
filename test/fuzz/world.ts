import { AccessTokens } from '../../app/accounts/tokens.js';
import { ManualClock } from '../helpers/clock.js';
import { TEST_SECRETS, type TestApp } from '../helpers/app.js';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import { send, signInDevice } from '../helpers/signaling.js';
import { connect } from '../helpers/connections.js';

/**
 * The users a fuzz case can name (through `ref` markers): A, the usual caller, signed in on a second device
 * (A2); B, connected to A; C, a stranger. Each of A's and B's device mailboxes holds something pending, past
 * the cursor the world records, so a fuzzed poll (any `wait`) answers at once and an ack or `after=` with
 * the recorded cursor cannot empty it.
 */
export type World = Map<string, string>;

/** The signals pending for a device (a poll without `after` acknowledges nothing). */
async function pending(t: TestApp, token: string): Promise<number> {
  const res = await t.http.get('/signaling/poll').set(bearer({ accessToken: token }));
  if (res.status !== 200) throw new Error(`poll failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body.signals as unknown[]).length;
}

/**
 * After a case that only acknowledged, cleared or added mailbox entries: sends one more signal to A's or B's
 * device if its mailbox is now empty, so the next fuzzed poll still answers at once. Much cheaper than a rebuild.
 */
export async function refillMailboxes(t: TestApp, world: World): Promise<void> {
  const get = (key: string) => world.get(key)!;
  for (const [to, from] of [
    ['A', 'B'],
    ['B', 'A'],
  ] as const) {
    if ((await pending(t, get(`${to}.accessToken`))) > 0) continue;
    const sent = await t.http
      .post('/signaling/send')
      .set(bearer({ accessToken: get(`${from}.accessToken`) }))
      .send({ to: get(`${to}.username`), type: 'offer', payload: 'kept pending' });
    if (sent.status !== 202) throw new Error(`send failed: ${sent.status} ${JSON.stringify(sent.body)}`);
  }
}

async function pollCursor(t: TestApp, user: TestUser): Promise<string> {
  const res = await t.http.get('/signaling/poll').set(bearer(user));
  if (res.status !== 200) throw new Error(`poll failed: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.cursor as string;
}

/** The `sid` claim of an access token: its session, for minting an expired token of that session. */
function sessionOf(accessToken: string): string {
  return (JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string }).sid;
}

/** Builds the world in `t`: fresh users each time, so a rebuild after a case that ended a session starts clean. */
export async function buildWorld(t: TestApp): Promise<World> {
  const [a, b, c] = [await registerUser(t), await registerUser(t), await registerUser(t)];
  const a2 = await signInDevice(t, a, 'second device');
  await connect(t, a, b);
  const world: World = new Map();
  const put = (prefix: string, u: TestUser) => {
    for (const key of ['id', 'username', 'email', 'password', 'accessToken', 'refreshToken'] as const) world.set(`${prefix}.${key}`, u[key]);
  };
  put('A', a);
  put('B', b);
  put('C', c);
  for (const [prefix, u] of [
    ['A', a],
    ['B', b],
    ['A2', a2],
  ] as const) {
    const res = await t.http.get('/users/me/devices').set(bearer(u));
    world.set(`${prefix}.deviceId`, (res.body.devices as Array<{ id: string; current: boolean }>).find((d) => d.current)!.id);
  }
  // The cursors are taken before one more signal each, which stays pending whatever a case acknowledges.
  world.set('A.cursor', await pollCursor(t, a));
  world.set('B.cursor', await pollCursor(t, b));
  for (const [from, to] of [
    [b, a],
    [a, b],
  ] as const) {
    const sent = await send(t, from, to, { payload: 'kept pending' });
    if (sent.status !== 202) throw new Error(`send failed: ${sent.status} ${JSON.stringify(sent.body)}`);
  }
  // A token of A's real session, signed with the server's key, that expired a day ago.
  const past = new ManualClock(t.clock.now() - 86_400_000);
  world.set('A.expiredToken', await new AccessTokens(TEST_SECRETS.jwtSecret, 60, past).sign({ userId: a.id, sessionId: sessionOf(a.accessToken) }));
  // The same token with one character of its signature changed: tampered. Not the last character, whose low
  // bits are base64 padding that decodes to the same signature.
  const token = a.accessToken;
  const at = token.length - 10;
  world.set('A.tamperedToken', token.slice(0, at) + (token[at] === 'A' ? 'B' : 'A') + token.slice(at + 1));
  return world;
}
