import { describe, expect, it } from '@jest/globals';
import type { Caller } from '../../app/core/caller.js';
import { DeviceService, type DeviceDeps } from '../../app/accounts/devices.service.js';
import { bestEffortLastSeen, LAST_SEEN_FAILURE_LOG_INTERVAL_MS } from '../../app/presence/lastSeenWrites.js';
import { PresenceService } from '../../app/presence/presence.service.js';
import type { Store } from '../../app/store/types.js';
import { ManualClock } from '../helpers/clock.js';

const caller: Caller = { userId: 'u1', sessionId: 's1' };

/** A logger that keeps its warnings. */
function warnings() {
  const lines: Array<{ obj: Record<string, unknown>; msg: string }> = [];
  return { lines, logger: { warn: (obj: Record<string, unknown>, msg: string) => void lines.push({ obj, msg }) } as never };
}

describe('bestEffortLastSeen', () => {
  it('answers undefined, waiting on nothing, when no write was due', () => {
    const { lines, logger } = warnings();
    const hook = bestEffortLastSeen(() => undefined, logger);
    expect(hook(caller)).toBeUndefined();
    expect(lines).toEqual([]);
  });

  it('waits for a due write and answers after it', async () => {
    const { logger } = warnings();
    let written = false;
    const hook = bestEffortLastSeen(() => Promise.resolve().then(() => void (written = true)), logger);
    const pending = hook(caller);
    expect(pending).toBeInstanceOf(Promise);
    await pending;
    expect(written).toBe(true);
  });

  it('turns a failed write, rejected or thrown, into one warning per interval and no failure', async () => {
    const { lines, logger } = warnings();
    let t = 1_000_000;
    let throwNow = false;
    const hook = bestEffortLastSeen(
      () => {
        if (throwNow) throw new Error('SQLITE_FULL');
        return Promise.reject(new Error('SQLITE_FULL'));
      },
      logger,
      () => t,
    );
    await expect(hook(caller)).resolves.toBeUndefined();
    throwNow = true;
    expect(hook(caller)).toBeUndefined();
    throwNow = false;
    await hook(caller);
    expect(lines.map((l) => l.msg)).toEqual(['lastSeen not recorded (the request goes on)']);
    t += LAST_SEEN_FAILURE_LOG_INTERVAL_MS;
    await hook(caller);
    expect(lines).toHaveLength(2);
    expect(lines[1]!.obj.failuresNotLogged).toBe(2);
  });
});

describe('the lastSeen writes behind the hook', () => {
  it("PresenceService.seen answers the user's presence write when due, else undefined", async () => {
    const clock = new ManualClock(Date.parse('2026-06-01T12:00:00Z'));
    const touched: Array<[string, number]> = [];
    const store = { presence: { touch: async (userId: string, at: Date) => void touched.push([userId, at.getTime()]) } } as unknown as Store;
    const presence = new PresenceService({ store, clock, windowSeconds: 120 });
    await presence.seen('u1');
    expect(presence.seen('u1')).toBeUndefined();
    clock.advance(29);
    expect(presence.seen('u1')).toBeUndefined();
    clock.advance(1);
    const due = presence.seen('u1');
    expect(due).toBeInstanceOf(Promise);
    await due;
    expect(touched.map(([id]) => id)).toEqual(['u1', 'u1']);
  });

  it("DeviceService.seen answers the device's lastSeen write when due, else undefined", async () => {
    const clock = new ManualClock(Date.parse('2026-06-01T12:00:00Z'));
    const touched: string[] = [];
    const store = { sessions: { touch: async (id: string) => void touched.push(id) } } as unknown as Store;
    // seen() uses only the store and the clock.
    const devices = new DeviceService({ store, clock } as unknown as DeviceDeps);
    await devices.seen(caller);
    expect(devices.seen(caller)).toBeUndefined();
    clock.advance(30);
    await devices.seen(caller);
    expect(touched).toEqual(['s1', 's1']);
  });
});
