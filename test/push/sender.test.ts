import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { createDelivery } from '../../app/push/deliver.js';
import { createPushMetrics } from '../../app/push/pushMetrics.js';
import { PushSender } from '../../app/push/sender.js';
import { FieldCipher } from '../../app/lib/fieldCipher.js';
import { makeTestApp, TEST_SECRETS, type TestApp } from '../helpers/app.js';

// The queue's bound, with the app's real store and a real delivery (to nowhere: nothing is subscribed).
describe('PushSender', () => {
  let t: TestApp;
  beforeEach(() => {
    t = makeTestApp();
  });
  afterEach(() => t.close());

  const sender = (max: number, registry = new Registry()) => {
    const delivery = createDelivery({ vapid: null, vapidSubject: 'mailto:a@b.c', ttlSeconds: 60, policy: { allowHttp: false, allowPrivate: false }, timeoutMs: 1000 });
    // eslint-disable-next-line prefer-const -- declared before the metrics callback that reads it, assigned after
    let s: PushSender | undefined;
    const metrics = createPushMetrics(registry, () => s?.size ?? 0);
    s = new PushSender({ store: t.store, cipher: new FieldCipher(TEST_SECRETS.dataKey), clock: t.clock, logger: pino({ level: 'silent' }), delivery, metrics, max });
    return { sender: s, registry };
  };

  it('holds at most PUSH_QUEUE_MAX wake-ups and counts the rest as dropped', async () => {
    const { sender: s, registry } = sender(2);
    expect([s.add('a', 1), s.add('b', 1), s.add('c', 1)]).toEqual([true, true, false]);
    await s.idle();
    const text = await registry.metrics();
    expect(text).toContain('signalbox_push_wakeups_total{kind="unknown",outcome="dropped"} 1');
    expect(s.size).toBe(0);
  });

  it('takes nothing after stop', async () => {
    const { sender: s } = sender(10);
    await s.stop();
    expect(s.add('a', 1)).toBe(false);
  });
});
