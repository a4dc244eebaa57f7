import type { TestApp } from '../helpers/app.js';
import type { TestUser } from '../helpers/factories.js';
import { metricValue } from '../helpers/signaling.js';

/** Signs `user` in once more: a second session, i.e. another device of the same account. */
export async function signIn(t: TestApp, user: TestUser): Promise<TestUser> {
  const res = await t.http.post('/auth/login').send({ username: user.username, password: user.password });
  if (res.status !== 200) throw new Error(`login failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...user, accessToken: res.body.accessToken, refreshToken: res.body.refreshToken };
}

/** The value of a labelled metric, e.g. `signalbox_polls_refused_total` with `reason="user_cap"`; 0 when absent. */
export async function labelledMetricValue(t: TestApp, name: string, labels: string): Promise<number> {
  const text = (await t.http.get('/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

/** Resolves once the app reports `n` held polls (each registered and waiting). */
export async function heldPolls(t: TestApp, n: number): Promise<void> {
  while ((await metricValue(t, 'signalbox_held_polls')) !== n) await new Promise((r) => setTimeout(r, 5));
}
