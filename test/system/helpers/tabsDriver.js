// The browser side of the several-tabs tests (browserTabs.test.ts): each tab of one browser context
// loads this over the real SDK from /sdk/signalbox.js, with `storage: localStorage`, so the tabs share one
// session (one device), as two tabs of one site do. Plain JavaScript, as an app would be.
import { Signalbox } from '/sdk/signalbox.js';

/** @type {any} */
let sb = null;
/** What this tab's handlers got, in order. */
const signals = [];
const events = [];
const states = [];
const errors = [];

function listen(instance) {
  sb = instance;
  sb.on('signal', (s) => void signals.push({ id: s.id, from: s.from, payload: s.payload }));
  sb.on('event', (e) => void events.push({ id: e.id, type: e.type }));
  sb.on('state', (state) => void states.push(state));
  sb.on('error', (e) => void errors.push(`${e.code}: ${e.message}`));
}

const waitFor = async (what, predicate, timeoutMs) => {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

globalThis.tabs = {
  /** The first tab: a new account, signed in with its tokens and private key in localStorage. */
  async register(username, password) {
    listen(new Signalbox({ storage: localStorage }));
    await sb.register({ username, email: `${username}@example.org`, password, device: { name: 'browser', platform: 'web' } });
    await sb.keys.ensure();
    return { deviceId: sb.deviceId, username: sb.user.username };
  },
  /** Another tab of the same site: resumes the session the first tab keeps in localStorage. */
  async restore() {
    listen(new Signalbox({ storage: localStorage }));
    const user = await sb.restore();
    await sb.keys.ensure();
    return { deviceId: sb.deviceId, username: user?.username ?? null };
  },
  start: () => sb.start(),
  stop: () => sb.stop(),
  acceptConnection: async (username) => void (await sb.connections.respond(username, 'accept')),
  /** An authenticated request: {ok, connections} or {ok: false, code}. */
  listConnections: () =>
    sb.connections.list().then(
      (list) => ({ ok: true, connections: list.length }),
      (err) => ({ ok: false, code: err.code, message: err.message }),
    ),
  user: () => sb.user?.username ?? null,
  signals: () => signals,
  events: () => events,
  states: () => states,
  errors: () => errors,
  waitForSignal: (payload, timeoutMs) => waitFor(`signal "${payload}"`, () => signals.some((s) => s.payload === payload), timeoutMs),
};
