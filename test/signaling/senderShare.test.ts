import { beforeEach, describe, expect, it } from '@jest/globals';
import { registerUser, type TestUser } from '../helpers/factories.js';
import { useTestApp, withUser } from '../helpers/perTest.js';
import { connectQuietly, payloads, poll, send } from '../helpers/signaling.js';
import { labelledMetricValue } from './helpers.js';

const t = useTestApp({ env: { MAILBOX_MAX: '5', MAILBOX_PER_SENDER: '2' } });
const [alice, bob, carol] = [withUser(t), withUser(t), withUser(t)];
beforeEach(async () => {
  await connectQuietly(t, alice, bob);
  await connectQuietly(t, carol, bob);
});

/** `n` sends from `from` to bob, each of which must be stored. */
async function fill(from: TestUser, n: number, prefix: string): Promise<void> {
  for (let i = 0; i < n; i++) {
    const res = await send(t, from, bob, { payload: `${prefix}${i}` });
    if (res.status !== 202) throw new Error(`send ${i} failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
}

describe('POST /signaling/send: MAILBOX_PER_SENDER', () => {
  it("answers 429 mailbox_full with Retry-After once the sender holds its share of the recipient's mailbox", async () => {
    await fill(alice, 2, 'a');
    const res = await send(t, alice, bob, { payload: 'one too many' });
    expect(res.status).toBe(429);
    expect(res.body.error.code).toBe('mailbox_full');
    expect(res.headers['retry-after']).toBeDefined();
  });

  it('stores nothing from a send past the share', async () => {
    await fill(alice, 2, 'a');
    await send(t, alice, bob, { payload: 'one too many' });
    expect(payloads(await poll(t, bob))).toEqual(['a0', 'a1']);
  });

  it('still takes signals from other senders when one holds its whole share', async () => {
    await fill(alice, 2, 'a');
    await send(t, alice, bob, { payload: 'one too many' });
    expect((await send(t, carol, bob, { payload: 'from carol' })).status).toBe(202);
  });

  it('takes the sender again once the recipient acknowledged', async () => {
    await fill(alice, 2, 'a');
    const { cursor } = (await poll(t, bob)).body;
    await poll(t, bob, { after: cursor });
    expect((await send(t, alice, bob)).status).toBe(202);
  });

  it('counts the refusal as signalbox_signals_rejected_total{reason="sender_share"}', async () => {
    await fill(alice, 2, 'a');
    await send(t, alice, bob, { payload: 'one too many' });
    expect(await labelledMetricValue(t, 'signalbox_signals_rejected_total', 'reason="sender_share"')).toBe(1);
  });

  it('still answers mailbox_full when the whole mailbox is full (MAILBOX_MAX)', async () => {
    const dave = await registerUser(t);
    await connectQuietly(t, dave, bob);
    await fill(alice, 2, 'a');
    await fill(carol, 2, 'c');
    await fill(dave, 1, 'd');
    const res = await send(t, dave, bob, { payload: 'past MAILBOX_MAX' });
    expect(res.status).toBe(429);
    expect(await labelledMetricValue(t, 'signalbox_signals_rejected_total', 'reason="mailbox_full"')).toBe(1);
  });
});
