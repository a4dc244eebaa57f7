import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { pino } from 'pino';
import type { SignalStore } from '../../app/store/types.js';
import type { MailboxNotifier } from '../../app/signaling/notifier.js';
import { RECHECK_INTERVAL_MS, startCrossInstanceWakeups } from '../../app/signaling/wakeups.js';

/**
 * Held polls on one instance wake for entries written through another: from the store's change feed,
 * or by re-checking on an interval while the feed is down, and no longer once it is back.
 */
describe('cross-instance wake-ups', () => {
  let feed: { arrive: (id: string) => void; fail: (err: unknown) => void; recover: () => void };
  let woken: string[][];
  let rechecks: number;
  let stop: () => Promise<void>;

  beforeEach(() => {
    jest.useFakeTimers();
    woken = [];
    rechecks = 0;
    // The store's side of the port, driven by hand (MongoDB cannot run here; the adapter's re-opening
    // is tested in test/store/resilientWatch.test.ts).
    const signals = {
      watchArrivals(listener: (id: string) => void, onFailure: (err: unknown) => void, onRecovered?: () => void) {
        feed = { arrive: listener, fail: onFailure, recover: () => onRecovered?.() };
        return async () => {};
      },
    } as unknown as SignalStore;
    const notifier = {
      notify: (ids: Iterable<string>) => woken.push([...ids]),
      notifyAll: () => {
        rechecks += 1;
      },
    } as unknown as MailboxNotifier;
    stop = startCrossInstanceWakeups(signals, notifier, pino({ level: 'silent' }));
  });

  afterEach(async () => {
    await stop();
    jest.useRealTimers();
  });

  it('wakes the device of each arrival the feed reports, and re-checks nothing while it works', () => {
    feed.arrive('phone');
    jest.advanceTimersByTime(5 * RECHECK_INTERVAL_MS);
    expect(woken).toEqual([['phone']]);
    expect(rechecks).toBe(0);
  });

  it('re-checks every interval while the feed is down, and stops once it is back (after one last re-check)', () => {
    feed.fail(new Error('outage'));
    feed.fail(new Error('re-open failed too')); // one interval, however many failures
    jest.advanceTimersByTime(3 * RECHECK_INTERVAL_MS);
    expect(rechecks).toBe(3);
    feed.recover();
    expect(rechecks).toBe(4);
    jest.advanceTimersByTime(10 * RECHECK_INTERVAL_MS);
    expect(rechecks).toBe(4);
    feed.arrive('laptop');
    expect(woken).toEqual([['laptop']]);
  });

  it('falls back again on a later outage', () => {
    feed.fail(new Error('first'));
    feed.recover();
    feed.fail(new Error('second'));
    jest.advanceTimersByTime(2 * RECHECK_INTERVAL_MS);
    expect(rechecks).toBe(1 + 2);
  });
});
