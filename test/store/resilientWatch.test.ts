import { EventEmitter } from 'node:events';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { MongoError, MongoNetworkError, MongoServerError } from 'mongodb';
import { resilientWatch, type Timers, type WatchStream } from '../../app/store/mongo/resilientWatch.js';

/** The driver's rule for servers 4.4 and later (mongodb's isResumableError): network errors and errors labelled so. */
const isResumable = (err: unknown) => err instanceof MongoNetworkError || (err instanceof MongoError && err.hasErrorLabel('ResumableChangeStreamError'));

/** Whether the driver finds a server to resume on (the replica set is reachable again within server selection). */
const world = { serverUp: true };

/**
 * A real EventEmitter standing in for the driver's ChangeStream (MongoDB cannot run here): it emits
 * what the driver emits. `cursorFails` is what the driver does with an error of its cursor in emitter
 * mode (ChangeStream._processErrorStreamMode): a resumable one closes the cursor (`close` is forwarded
 * to the stream), then, when a server can be selected, a new cursor resumes from the last token
 * without any `error`; a resumable one with no server to resume on, or any other, is emitted as
 * `error` and the stream closes itself. Closing it emits `close` as the driver's does.
 */
class FakeChangeStream extends EventEmitter implements WatchStream<string> {
  closed = false;
  cursors = 1;
  async close() {
    if (this.closed) return;
    this.closed = true;
    this.emit('close');
  }
  cursorFails(err: unknown): Promise<void> {
    if (this.closed) return Promise.resolve();
    const giveUp = async () => {
      this.emit('error', err);
      await this.close();
    };
    if (!isResumable(err)) return giveUp();
    this.emit('close'); // the old cursor's
    return Promise.resolve().then(() => {
      if (!world.serverUp) return giveUp();
      this.cursors++;
    });
  }
}

/** Timers run by hand: each wait is recorded, and `fire` runs the pending one. */
function manualTimers() {
  const waits: number[] = [];
  let pending: (() => void) | undefined;
  const timers: Timers = {
    set(run, ms) {
      waits.push(ms);
      pending = run;
      return waits.length;
    },
    clear() {
      pending = undefined;
    },
  };
  return {
    timers,
    waits,
    fire() {
      const run = pending;
      pending = undefined;
      run?.();
    },
    get hasPending() {
      return pending !== undefined;
    },
  };
}

function harness() {
  const streams: FakeChangeStream[] = [];
  const changes: string[] = [];
  const failures: unknown[] = [];
  const recoveries: number[] = [];
  const clock = manualTimers();
  const stop = resilientWatch(
    () => {
      const s = new FakeChangeStream();
      streams.push(s);
      return s;
    },
    (c) => changes.push(c),
    {
      backoff: { firstMs: 100, maxMs: 800 },
      onFailure: (err) => failures.push(err),
      onRecovered: () => recoveries.push(failures.length),
      timers: clock.timers,
      isLast: (change) => change === 'invalidate',
    },
  );
  const latest = () => streams[streams.length - 1]!;
  return { streams, changes, failures, recoveries, clock, stop, latest };
}

/** Lets the stream's close (run on a later microtask) happen. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('resilientWatch', () => {
  beforeEach(() => {
    world.serverUp = true;
  });

  it('tells of a recovery once the re-opened stream answers, and not before or twice', async () => {
    const h = harness();
    h.latest().emit('resumeTokenChanged');
    expect(h.recoveries).toEqual([]); // never failed: nothing to recover from
    h.latest().emit('error', new Error('outage'));
    await settle();
    h.clock.fire();
    expect(h.recoveries).toEqual([]); // open again, but not proven yet
    h.latest().emit('resumeTokenChanged');
    h.latest().emit('change', 'x');
    expect(h.recoveries).toEqual([1]);
    await h.stop();
  });

  it('passes each change of the open stream on', () => {
    const h = harness();
    h.latest().emit('change', 'device-1');
    h.latest().emit('change', 'device-2');
    expect(h.changes).toEqual(['device-1', 'device-2']);
    expect(h.streams).toHaveLength(1);
  });

  it('re-opens after an error, reports it, and delivers the new stream’s changes', async () => {
    const h = harness();
    const outage = new Error('replica set went away');
    h.latest().emit('error', outage);
    expect(h.failures).toEqual([outage]);
    expect(h.clock.waits).toEqual([100]);
    h.clock.fire();
    expect(h.streams).toHaveLength(2);
    h.latest().emit('change', 'after');
    expect(h.changes).toEqual(['after']);
    await settle();
    expect(h.streams[0]!.closed).toBe(true);
  });

  it('leaves a resumable error to the driver: no re-open, no failure, the same stream goes on', async () => {
    const h = harness();
    await h.latest().cursorFails(new MongoNetworkError('connection reset by the primary stepping down'));
    await h.latest().cursorFails(new MongoServerError({ ok: 0, code: 43, errmsg: 'cursor not found', errorLabels: ['ResumableChangeStreamError'] }));
    await settle();
    expect(h.streams).toHaveLength(1);
    expect(h.latest().closed).toBe(false);
    expect(h.latest().cursors).toBe(3); // resumed twice, from its resume token
    expect(h.failures).toEqual([]);
    expect(h.clock.hasPending).toBe(false);
    h.latest().emit('change', 'after the resume');
    expect(h.changes).toEqual(['after the resume']);
  });

  it('re-opens once when the driver cannot resume (no server within server selection)', async () => {
    const h = harness();
    world.serverUp = false;
    const outage = new MongoNetworkError('connection refused');
    await h.latest().cursorFails(outage);
    await settle();
    expect(h.failures).toEqual([outage]);
    expect(h.clock.waits).toEqual([100]);
    world.serverUp = true;
    h.clock.fire();
    expect(h.streams).toHaveLength(2);
  });

  it('re-opens once after a non-resumable error', async () => {
    const h = harness();
    const fatal = new MongoServerError({ ok: 0, code: 280, codeName: 'ChangeStreamFatalError', errmsg: 'resume token no longer in the oplog' });
    await h.latest().cursorFails(fatal);
    await settle();
    expect(h.failures).toEqual([fatal]);
    expect(h.clock.waits).toEqual([100]);
    h.clock.fire();
    expect(h.streams).toHaveLength(2);
    expect(h.streams[0]!.closed).toBe(true);
  });

  it('passes an invalidate event on, then opens a new stream', async () => {
    const h = harness();
    h.latest().emit('change', 'invalidate');
    h.latest().emit('close'); // its cursor, exhausted
    await settle();
    expect(h.changes).toEqual(['invalidate']);
    expect(h.clock.waits).toEqual([100]);
    h.clock.fire();
    expect(h.streams).toHaveLength(2);
  });

  it('re-opens once for an error followed by its close', async () => {
    const h = harness();
    h.latest().emit('error', new Error('x'));
    h.latest().emit('close');
    await settle();
    expect(h.clock.waits).toEqual([100]);
    h.clock.fire();
    expect(h.streams).toHaveLength(2);
  });

  it('doubles the wait while re-opens keep failing, up to the maximum', () => {
    const h = harness();
    for (let n = 0; n < 5; n++) {
      h.latest().emit('error', new Error(`outage ${n}`));
      h.clock.fire();
    }
    expect(h.clock.waits).toEqual([100, 200, 400, 800, 800]);
  });

  it('waits the first wait again once a re-opened stream works', () => {
    const h = harness();
    h.latest().emit('error', new Error('a'));
    h.clock.fire();
    h.latest().emit('error', new Error('b'));
    h.clock.fire();
    h.latest().emit('resumeTokenChanged', { _data: 'token' });
    h.latest().emit('error', new Error('c'));
    expect(h.clock.waits).toEqual([100, 200, 100]);
  });

  it('retries when opening itself throws', () => {
    const clock = manualTimers();
    let attempts = 0;
    const failures: unknown[] = [];
    resilientWatch(
      () => {
        attempts++;
        if (attempts === 1) throw new Error('no server');
        return new FakeChangeStream();
      },
      () => {},
      { backoff: { firstMs: 50, maxMs: 50 }, onFailure: (err) => failures.push(err), timers: clock.timers },
    );
    expect(failures).toHaveLength(1);
    clock.fire();
    expect(attempts).toBe(2);
  });

  it('stops for good: closes the stream, re-opens nothing, cancels a pending re-open', async () => {
    const h = harness();
    await h.stop();
    expect(h.latest().closed).toBe(true);
    expect(h.failures).toEqual([]);
    expect(h.clock.hasPending).toBe(false);

    const g = harness();
    g.latest().emit('error', new Error('x'));
    await g.stop();
    expect(g.clock.hasPending).toBe(false);
    expect(g.streams).toHaveLength(1);
  });
});
