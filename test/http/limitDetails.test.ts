import { afterEach, describe, expect, it } from '@jest/globals';
import request, { type Response } from 'supertest';
import { RATE_LIMIT_ENV, RATE_LIMIT_VARIABLES, type Env } from '../../app/config/environment.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { sendRequest, respond } from '../helpers/connections.js';
import { bearer, registerUser, signIn } from '../helpers/factories.js';
import { connectQuietly, poll, send } from '../helpers/signaling.js';
import { heldPolls } from '../signaling/helpers.js';

/**
 * Every 429 names the limit that refused it (`details.limit`, the configuration variable to raise) and
 * when it frees (`details.retryAfter`, the same seconds as the Retry-After header), so a developer who
 * meets one does not have to search the code for it.
 */
let t: TestApp;
let held: Array<Promise<Response>> = [];
afterEach(async () => {
  t.app.lifecycle.releasePolls();
  await Promise.all(held);
  held = [];
  await t.close();
});

const start = (env: Env) => {
  t = makeTestApp({ env });
  return t;
};

function expectNamedLimit(res: Response, code: string, limit: string): number {
  expect(res.status).toBe(429);
  expect(res.body.error.code).toBe(code);
  expect(res.body.error.details).toEqual({ limit, retryAfter: Number(res.headers['retry-after']) });
  expect(res.body.error.details.retryAfter).toBeGreaterThanOrEqual(1);
  return res.body.error.details.retryAfter as number;
}

describe('429 answers name their limit', () => {
  it('names RATE_REGISTER_IP on the sign-up past the hourly limit, with the seconds until its window ends', async () => {
    start({ RATE_REGISTER_IP: '2/3600' });
    await registerUser(t);
    await registerUser(t);
    t.clock.advance(273);
    const res = await t.http.post('/auth/register').send({ username: 'carol', email: 'carol@example.com', password: 'correct horse battery' });
    expect(expectNamedLimit(res, 'rate_limited', 'RATE_REGISTER_IP')).toBe(3600 - 273);
  });

  it('names the variable of whichever per-user limit refused (RATE_SEARCH_USER)', async () => {
    start({ RATE_SEARCH_USER: '1/60' });
    const alice = await registerUser(t);
    expect((await t.http.get('/users/search?q=b').set(bearer(alice))).status).toBe(200);
    expectNamedLimit(await t.http.get('/users/search?q=b').set(bearer(alice)), 'rate_limited', 'RATE_SEARCH_USER');
  });

  it('maps every rate limit to a RATE_* variable of the configuration', () => {
    expect(Object.values(RATE_LIMIT_ENV).sort()).toEqual([...RATE_LIMIT_VARIABLES].sort());
  });

  it('names CONNECTION_PENDING_MAX when an account holds as many unanswered requests as it may', async () => {
    start({ CONNECTION_PENDING_MAX: '1' });
    const [alice, bob, carol] = [await registerUser(t), await registerUser(t), await registerUser(t)];
    expect((await sendRequest(t, alice, bob)).status).toBe(201);
    expectNamedLimit(await sendRequest(t, alice, carol), 'rate_limited', 'CONNECTION_PENDING_MAX');
  });

  it('names both cool-downs when a turned-down request is asked again too soon', async () => {
    start({ CONNECTION_REJECT_COOLDOWN: '600' });
    const [alice, bob] = [await registerUser(t), await registerUser(t)];
    await sendRequest(t, alice, bob);
    expect((await respond(t, bob, alice, 'reject')).status).toBe(200);
    const wait = expectNamedLimit(await sendRequest(t, alice, bob), 'rate_limited', 'CONNECTION_REQUEST_COOLDOWN|CONNECTION_REJECT_COOLDOWN');
    expect(wait).toBe(600);
  });

  it('names both mailbox limits on mailbox_full (which one is not told)', async () => {
    start({ MAILBOX_MAX: '1', MAILBOX_PER_SENDER: '1' });
    const [alice, bob] = [await registerUser(t), await registerUser(t)];
    await connectQuietly(t, alice, bob);
    expect((await send(t, alice, bob, { payload: 'one' })).status).toBe(202);
    expectNamedLimit(await send(t, alice, bob, { payload: 'two' }), 'mailbox_full', 'MAILBOX_MAX|MAILBOX_PER_SENDER');
  });

  it('names POLLS_PER_USER on a poll past the cap, in the same bytes from the lean route as from Koa', async () => {
    start({ POLLS_PER_USER: '1' });
    const bob = await registerUser(t);
    const second = await signIn(t, bob);
    held.push(poll(t, bob, { wait: 30 }));
    await heldPolls(t, 1);
    const ask = (agent: ReturnType<typeof request>) =>
      agent
        .get('/signaling/poll?wait=1')
        .set(bearer(second))
        .set('X-Request-Id', 'limit-names-1')
        .then((r) => r);
    const lean = await ask(request(t.app.handler));
    const koa = await ask(request(t.app.koa.callback()));
    expectNamedLimit(lean, 'rate_limited', 'POLLS_PER_USER');
    expect(lean.text).toBe(koa.text);
    expect(lean.headers['retry-after']).toBe(koa.headers['retry-after']);
  });
});
