import type { Response } from 'supertest';
import type { TestApp } from './app.js';
import { connect } from './connections.js';
import { bearer, type TestUser } from './factories.js';

/** POST /signaling/send from `from` to `to` with sensible defaults. */
export function send(t: TestApp, from: TestUser, to: { username: string }, body: Record<string, unknown> = {}) {
  return t.http
    .post('/signaling/send')
    .set(bearer(from))
    .send({ to: to.username, type: 'offer', payload: 'ciphertext', ...body });
}

/**
 * GET /signaling/poll with optional `after` cursor and `wait` seconds. The request is sent at once
 * (a supertest request otherwise waits for its first `then`), so a test can hold it and act meanwhile.
 */
export function poll(t: TestApp, user: TestUser, query: { after?: string; wait?: number } = {}): Promise<Response> {
  const params = new URLSearchParams();
  if (query.after !== undefined) params.set('after', query.after);
  if (query.wait !== undefined) params.set('wait', String(query.wait));
  const qs = params.toString();
  return t.http
    .get(`/signaling/poll${qs ? `?${qs}` : ''}`)
    .set(bearer(user))
    .then((res) => res);
}

/** The payloads of a poll answer, in order. */
export const payloads = (res: { body: { signals: Array<{ payload: string }> } }) => res.body.signals.map((s) => s.payload);

/** The value of an unlabelled metric in the Prometheus text of GET /metrics. */
export async function metricValue(t: TestApp, name: string): Promise<number> {
  const text = (await t.http.get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`metric ${name} not found`);
  return Number(line.split(' ')[1]);
}

/** A user signed in on one more device (a second login), with that device's id. */
export type TestDevice = TestUser & { deviceId: string };

/** Signs `user` in on another device (a new session, named `name`): its tokens and its `deviceId`. */
export async function signInDevice(t: TestApp, user: TestUser, name = 'another device'): Promise<TestDevice> {
  const res = await t.http.post('/auth/login').send({ username: user.username, password: user.password, device: { name } });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...user, accessToken: res.body.accessToken, refreshToken: res.body.refreshToken, deviceId: res.body.deviceId };
}

/** The device id of the session `user`'s access token belongs to (GET /users/me/devices, `current`). */
export async function deviceIdOf(t: TestApp, user: TestUser): Promise<string> {
  const res = await t.http.get('/users/me/devices').set(bearer(user));
  if (res.status !== 200) throw new Error(`devices failed: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body.devices as Array<{ id: string; current: boolean }>).find((d) => d.current)!.id;
}

/** DELETE /signaling/clear by `user`: empties the mailbox of that session's device. */
export async function clearMailbox(t: TestApp, user: TestUser): Promise<void> {
  const res = await t.http.delete('/signaling/clear').set(bearer(user));
  if (res.status !== 204) throw new Error(`clear failed: ${res.status} ${JSON.stringify(res.body)}`);
}

/**
 * Connects `a` and `b` (a asks, b accepts), then empties both devices' mailboxes of the server events
 * that wrote (connection.requested, connection.accepted), so a signaling test sees only its own signals.
 */
export async function connectQuietly(t: TestApp, a: TestUser, b: TestUser): Promise<void> {
  await connect(t, a, b);
  await clearMailbox(t, a);
  await clearMailbox(t, b);
}

/** A server event as a poll hands it out, with its JSON payload parsed. */
export interface PolledEvent {
  type: string;
  from: string;
  fromDevice: string | null;
  payload: unknown;
}

/** The server events (dotted types) of a poll answer, in order, payloads parsed. */
export function eventsIn(res: { body: { signals: Array<{ type: string; from: string; fromDevice: string | null; payload: string }> } }): PolledEvent[] {
  return res.body.signals
    .filter((s) => s.type.includes('.'))
    .map((s) => ({ type: s.type, from: s.from, fromDevice: s.fromDevice, payload: JSON.parse(s.payload) as unknown }));
}
