import { describe, expect, it } from '@jest/globals';
import { MemoryStorage, type ConnectionState, type ReceivedSignal, type Signalbox, type SignalboxError, type StateDetail } from '../../client/src/index.js';
import type { Store } from '../../app/store/types.js';
import { FAST_RETRY, FetchProbe, PauseProbe, bearerOf, collect, until, useSdkHarness, type SdkHarness } from './harness.js';

/** Two connected clients with keys; `bob` runs on `bobOptions`. */
async function pair(h: SdkHarness, bobOptions: Parameters<SdkHarness['client']>[0] = {}) {
  const alice = await h.user('alice');
  const bob = await h.user('bob', bobOptions);
  await h.connect(alice, bob);
  return { alice, bob };
}

/** Every 'state' a client goes through, with its detail. */
function states(sb: Signalbox): Array<[ConnectionState, StateDetail]> {
  const seen: Array<[ConnectionState, StateDetail]> = [];
  sb.on('state', (state, detail) => void seen.push([state, detail]));
  return seen;
}

/** Resolves when `sb` enters `state`. */
const reaches = (sb: Signalbox, state: ConnectionState) => collect<ConnectionState>(1, (push) => sb.on('state', (s) => s === state && push(s)));

/** A promise and its resolve, for handlers that should wait until the test lets them go. */
function gate() {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** The nominal backoff before retry `n` (1-based) under FAST_RETRY; the SDK waits between half of it and all of it. */
const nominal = (n: number) => Math.min(FAST_RETRY.maxMs, FAST_RETRY.baseMs * 2 ** (n - 1));

describe('the poll loop: acknowledgement and delivery', () => {
  const h = useSdkHarness();

  it('acknowledges only after the handler ran: a handler that throws gets that signal again, the ones before it not twice', async () => {
    const { alice, bob } = await pair(h);
    for (const text of ['one', 'two', 'three']) await alice.send(bob.user!.username, 'custom', text);
    const handed: string[] = [];
    let failedOnce = false;
    const errors: SignalboxError[] = [];
    bob.on('error', (e) => void errors.push(e));
    const all = collect<ReceivedSignal>(3, (push) =>
      bob.on('signal', (s) => {
        handed.push(s.payload);
        if (s.payload === 'two' && !failedOnce) {
          failedOnce = true;
          throw new Error('the app could not handle it yet');
        }
        push(s);
      }),
    );
    bob.start();
    await all;
    expect(handed).toEqual(['one', 'two', 'two', 'three']);
    expect(errors).toEqual([expect.objectContaining({ code: 'handler_failed', details: expect.objectContaining({ attempts: 1, givenUp: false }) })]);
  });

  it('gives a device that died before its handler finished the signal again', async () => {
    const storage = new MemoryStorage();
    const { alice, bob } = await pair(h, { storage });
    const { id } = await alice.send(bob.user!.username, 'custom', 'handle me');
    const stuck = gate();
    const entered = collect<ReceivedSignal>(1, (push) =>
      bob.on('signal', async (s) => {
        push(s);
        await stuck.opened;
      }),
    );
    bob.start();
    await entered;
    // The app dies here: its handler never finishes, nothing more is sent. The same device restarts.
    const restarted = h.client({ storage });
    await restarted.restore();
    const again = collect<ReceivedSignal>(1, (push) => restarted.on('signal', push));
    restarted.start();
    expect((await again).map((s) => [s.id, s.payload])).toEqual([[id, 'handle me']]);
    stuck.open(); // lets the first instance be stopped after the test
  });

  it('stop() lets a running handler finish and acknowledges it: the next start does not get it again', async () => {
    const storage = new MemoryStorage();
    const { alice, bob } = await pair(h, { storage });
    await alice.send(bob.user!.username, 'custom', 'slow to handle');
    const slow = gate();
    let finished = false;
    const entered = collect<ReceivedSignal>(1, (push) =>
      bob.on('signal', async (s) => {
        push(s);
        await slow.opened;
        finished = true;
      }),
    );
    bob.start();
    await entered;
    const stopped = bob.stop();
    slow.open();
    await stopped;
    expect(finished).toBe(true);
    const pending = await h.t.http.get('/signaling/poll').set(bearerOf(storage));
    expect(pending.body.signals.filter((s: { type: string }) => s.type === 'custom')).toEqual([]);
  });

  it('on 401 refreshes once and goes on receiving', async () => {
    const probe = new FetchProbe();
    const { alice, bob } = await pair(h, { fetch: probe.fetch, pollWaitSeconds: 1 });
    const online = reaches(bob, 'online');
    bob.start();
    await online;
    h.t.clock.advance(h.t.config.accessTokenTtl + 1);
    const received = collect<ReceivedSignal>(1, (push) => bob.on('signal', push));
    await alice.send(bob.user!.username, 'custom', 'after the token expired');
    expect((await received)[0]!.payload).toBe('after the token expired');
    expect(probe.to('/auth/refresh')).toHaveLength(1);
  });

  it('stops with signed-out when the session ended, and never polls with the dead token again', async () => {
    const probe = new FetchProbe();
    // Every wait the SDK asks for ends at once: a loop that went on retrying would poll again within milliseconds.
    const pauses = new PauseProbe({ immediate: true });
    const { bob } = await pair(h, { fetch: probe.fetch, pause: pauses.pause });
    const seen = states(bob);
    const errors: SignalboxError[] = [];
    bob.on('error', (e) => void errors.push(e));
    const online = reaches(bob, 'online');
    const signedOut = reaches(bob, 'signed-out');
    bob.start();
    await online;
    const other = await h.t.http.post('/auth/login').send({ username: bob.user!.username, password: 'correct horse battery' });
    await h.t.http.delete(`/users/me/devices/${bob.deviceId}`).set({ Authorization: `Bearer ${other.body.accessToken}` });
    await signedOut;
    await until(() => errors.length > 0); // the loop says why it stopped as it exits
    const requestsAtSignOut = probe.seen.length;
    await new Promise((resolve) => setTimeout(resolve, 100)); // many instant backoffs' worth
    expect(probe.seen.length).toBe(requestsAtSignOut);
    expect(pauses.asked).toEqual([]); // and it is not waiting to retry either
    expect(probe.to('/auth/refresh').map((r) => r.status)).toEqual([401]);
    expect(seen.map(([state]) => state)).toEqual(['online', 'signed-out']);
    expect(errors.map((e) => e.code)).toEqual(['signed_out']); // why the loop stopped
  });
});

describe('the poll loop: network errors', () => {
  const h = useSdkHarness();

  it('backs off exponentially with jitter while the network is gone, then resumes and delivers what arrived meanwhile', async () => {
    const probe = new FetchProbe();
    const { alice, bob } = await pair(h, { fetch: probe.fetch });
    let failedPolls = 0;
    const OUTAGE = 4;
    probe.failWhen = (_method, path) => path.startsWith('/signaling/poll') && failedPolls++ < OUTAGE;
    await alice.send(bob.user!.username, 'custom', 'sent while bob was offline');
    const seen = states(bob);
    const received = collect<ReceivedSignal>(1, (push) => bob.on('signal', push));
    bob.start();
    expect((await received)[0]!.payload).toBe('sent while bob was offline');
    const waits = seen.filter(([state]) => state === 'offline').map(([, detail]) => detail.retryInMs!);
    expect(waits).toHaveLength(OUTAGE);
    waits.forEach((ms, i) => {
      expect(ms).toBeGreaterThanOrEqual(nominal(i + 1) / 2);
      expect(ms).toBeLessThanOrEqual(nominal(i + 1));
    });
    expect(seen.map(([state]) => state)).toEqual(['offline', 'offline', 'offline', 'offline', 'online']);
    expect(seen[0]![1].error!.code).toBe('network');
  });
});

/** A wrapStore that makes every session look-up (so every authenticated request) fail while `failures.left` > 0. */
function failingSessionLookups(failures: { left: number }) {
  return (store: Store): Store => {
    const sessions = store.sessions;
    const findById: typeof sessions.findById = async (...args) => {
      if (failures.left > 0) {
        failures.left--;
        throw new Error('the disk went away');
      }
      return sessions.findById(...args);
    };
    return { ...store, sessions: { ...sessions, findById } };
  };
}

describe('the poll loop: server errors (5xx)', () => {
  const failures = { left: 0 };
  const h = useSdkHarness({ wrapStore: failingSessionLookups(failures) });

  it('backs off exponentially on 500 and delivers once the server recovers', async () => {
    const probe = new FetchProbe();
    const { alice, bob } = await pair(h, { fetch: probe.fetch });
    await alice.send(bob.user!.username, 'custom', 'waiting for a healthy server');
    const seen = states(bob);
    const received = collect<ReceivedSignal>(1, (push) => bob.on('signal', push));
    failures.left = 3;
    bob.start();
    expect((await received)[0]!.payload).toBe('waiting for a healthy server');
    expect(probe.to('/signaling/poll').map((r) => r.status)).toEqual([500, 500, 500, 200]);
    const waits = seen.filter(([state]) => state === 'offline').map(([, detail]) => detail.retryInMs!);
    waits.forEach((ms, i) => expect(ms).toBeGreaterThanOrEqual(nominal(i + 1) / 2));
    expect(waits.map((ms, i) => ms <= nominal(i + 1))).toEqual([true, true, true]);
  });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('the poll loop: Retry-After', () => {
  const h = useSdkHarness({ env: { POLLS_PER_USER: '1', POLLS_MAX: '2' } });

  /** Signs `username` in on one more device (raw HTTP) that holds a long-poll until the server closes. */
  async function holdPoll(username: string, heldInAll: number) {
    const login = await h.t.http.post('/auth/login').send({ username, password: 'correct horse battery' });
    void h.t.http
      .get('/signaling/poll?wait=30')
      .set({ Authorization: `Bearer ${login.body.accessToken}` })
      .then(
        () => undefined,
        () => undefined,
      );
    const held = async () => Number(/^signalbox_held_polls (\d+)/m.exec((await h.t.http.get('/metrics')).text)?.[1] ?? 0);
    while ((await held()) < heldInAll) await sleep(5);
  }

  /**
   * Starts `bob`, whose first poll that would wait is refused with `status`, and checks that the loop asked
   * to wait what Retry-After says (plus its spread) and polled again only once that wait had ended.
   */
  async function expectRetryAfterHonoured(bob: Signalbox, probe: FetchProbe, pauses: PauseProbe, status: number) {
    const seen = states(bob);
    bob.start();
    // Polls that find signals pending (the connection's events) are never refused; the first that would wait is.
    await until(() => pauses.asked.length === 1);
    const polls = () => probe.to('/signaling/poll');
    const refusedAt = polls().findIndex((r) => r.status === status);
    expect(refusedAt).toBe(polls().length - 1); // the refused poll is the last one so far
    const [, detail] = seen.find(([state]) => state === 'offline')!;
    expect(detail.error).toMatchObject({ status, retryAfterMs: 5000 });
    expect(detail.retryInMs).toBeGreaterThanOrEqual(5000);
    expect(detail.retryInMs).toBeLessThanOrEqual(5500); // Retry-After plus at most 10% spread
    expect(pauses.asked.map(Math.round)).toEqual([detail.retryInMs]); // the wait it announced is the one it asked for
    await sleep(50);
    expect(polls()).toHaveLength(refusedAt + 1); // nothing polled while that wait lasts
    pauses.releaseAll();
    await until(() => polls().length > refusedAt + 1); // the next poll, once it has ended
  }

  it('waits what Retry-After says on 429 (the user holds POLLS_PER_USER polls already)', async () => {
    const probe = new FetchProbe();
    const pauses = new PauseProbe();
    const { bob } = await pair(h, { fetch: probe.fetch, pause: pauses.pause });
    await holdPoll(bob.user!.username, 1); // bob's other device
    await expectRetryAfterHonoured(bob, probe, pauses, 429);
  });

  it('waits what Retry-After says on 503 (the server holds POLLS_MAX polls already)', async () => {
    const probe = new FetchProbe();
    const pauses = new PauseProbe();
    const { alice, bob } = await pair(h, { fetch: probe.fetch, pause: pauses.pause });
    await holdPoll(alice.user!.username, 1);
    const carol = await h.user('carol');
    await holdPoll(carol.user!.username, 2);
    await expectRetryAfterHonoured(bob, probe, pauses, 503);
  });
});
