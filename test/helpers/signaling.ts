import type { Response } from 'supertest';
import type { TestApp } from './app.js';
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
