// The browser side of the call tests: loaded by a page on the server's origin, it drives the real SDK
// from /sdk/signalbox.js and keeps what happened (rings, calls, data-channel messages) for the test to
// read through page.evaluate. Plain JavaScript: it runs in Chromium as served, like an app would.
import { Signalbox } from '/sdk/signalbox.js';
import { selectedPair } from '/diagnostics/webrtcChecks.js';

/** @type {any} */
let sb = null;
/** Rings, in order: the IncomingCall and the state it ended in. */
const rings = [];
/** Calls by sessionId, with their messages and closes. */
const calls = new Map();
const errors = [];
/** Signals handed to the app's 'signal' handlers: {id, from, type, payload, sessionId}. */
const signals = [];
/** How each auto-accepted ring's accept() ended: {sessionId, ok, code?, ms}. */
const acceptOutcomes = [];

function track(call, setupMs) {
  const entry = { call, messages: [], closes: [], states: [], setupMs };
  calls.set(call.sessionId, entry);
  const listen = (channel) => channel.addEventListener('message', (e) => entry.messages.push(String(e.data)));
  if (call.channel) listen(call.channel);
  call.on('close', (info) => entry.closes.push({ reason: info.reason, by: info.by }));
  call.on('state', (state) => entry.states.push(state));
  return describe(call.sessionId);
}

function describe(sessionId) {
  const { call, setupMs, closes, states } = calls.get(sessionId);
  const remote = call.pc.remoteDescription?.sdp ?? '';
  return {
    sessionId,
    peer: call.peer,
    peerDevice: call.peerDevice,
    setupMs,
    connectionState: call.pc.connectionState,
    iceConnectionState: call.pc.iceConnectionState,
    channelState: call.channel?.readyState ?? null,
    remoteIceUfrag: /a=ice-ufrag:(\S+)/.exec(remote)?.[1] ?? null,
    closes,
    states,
  };
}

/** Set by autoAccept(): every ring is accepted at once with these options (the bench's callee). */
let autoAcceptOptions = null;

async function begin(instance) {
  sb = instance;
  sb.on('error', (e) => errors.push(`${e.code}: ${e.message}`));
  sb.on('signal', (x) => void signals.push({ id: x.id, from: x.from, type: x.type, payload: x.payload, sessionId: x.sessionId }));
  sb.on('call', (incoming) => {
    const ring = { incoming, closedAs: null };
    incoming.on('close', (state) => (ring.closedAs = state));
    rings.push(ring);
    if (autoAcceptOptions) {
      const started = performance.now();
      const outcome = (ok, code) => acceptOutcomes.push({ sessionId: incoming.sessionId, ok, ...(code ? { code } : {}), ms: Math.round(performance.now() - started) });
      incoming.accept(autoAcceptOptions).then(
        (call) => (outcome(true), track(call)),
        (e) => (outcome(false, e.code), errors.push(`accept: ${e.code}: ${e.message}`)),
      );
    }
  });
  sb.start();
  return { deviceId: sb.deviceId, username: sb.user.username };
}

const waitFor = async (what, predicate, timeoutMs) => {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Says plainly when the served SDK has no calls, instead of a TypeError deep in a test. */
function requireCalls() {
  if (typeof sb?.call !== 'function')
    throw new Error('the SDK served at /sdk/signalbox.js has no call(): is client/src/calls wired into Signalbox and the bundle rebuilt?');
}

/**
 * A fetch that turns the SDK's long-poll into a short-poll every `intervalMs`: each GET /signaling/poll
 * asks wait=0 and starts no sooner than `intervalMs` after the previous one started (the SDK's own loop
 * polls again at once after an answer, which with wait=0 would spin). Everything else passes through.
 */
function shortPollFetch(intervalMs) {
  let lastPoll = 0;
  return async (url, init) => {
    const u = new URL(url);
    if (u.pathname === '/signaling/poll') {
      u.searchParams.set('wait', '0');
      const due = lastPoll + intervalMs - performance.now();
      if (due > 0) await new Promise((r) => setTimeout(r, due));
      lastPoll = performance.now();
      return fetch(u.toString(), init);
    }
    return fetch(url, init);
  };
}

globalThis.driver = {
  /** options.shortPollMs: poll every that many ms with wait=0 instead of the SDK's long-poll. */
  async register(username, password, options = {}) {
    const instance = new Signalbox(options.shortPollMs ? { fetch: shortPollFetch(options.shortPollMs) } : {});
    await instance.register({ username, email: `${username}@example.org`, password });
    await instance.keys.ensure();
    return begin(instance);
  },
  /** Another device of an existing account: signs in and takes the account's private key from its first device. */
  async login(username, password, privateKey) {
    const instance = new Signalbox();
    await instance.login({ username, password });
    await instance.keys.import(privateKey);
    return begin(instance);
  },
  /** Another device of an existing account that has no key yet: signs in and polls; the key comes by link or backup. */
  async loginWithoutKey(username, password) {
    const instance = new Signalbox();
    await instance.login({ username, password });
    return begin(instance);
  },
  exportKey: () => sb.keys.export(),
  fingerprint: () => sb.user.pgp?.fingerprint ?? null,
  saveBackup: (passphrase) => sb.keys.saveBackup(passphrase),
  loadBackup: (passphrase) => sb.keys.loadBackup(passphrase),
  /** devices.requestLink(): the code and QR payload; `done` is kept for linkDone(). */
  async requestLink() {
    const link = await sb.devices.requestLink();
    globalThis.pendingLink = link.done;
    return { code: link.code, qr: link.qr, expiresAt: link.expiresAt };
  },
  linkDone: () => globalThis.pendingLink,
  approveLink: (code) => sb.devices.approveLink(code),
  requestConnection: async (username) => void (await sb.connections.request(username)),
  acceptConnection: async (username) => void (await sb.connections.respond(username, 'accept')),
  async call(username, options) {
    requireCalls();
    const started = performance.now();
    const call = await sb.call(username, options);
    return track(call, Math.round(performance.now() - started));
  },
  /** Starts a call without waiting for it (glare): its outcome is read with callOutcome(). */
  startCall(username, options) {
    requireCalls();
    const started = performance.now();
    globalThis.pendingAbort = new AbortController();
    globalThis.pendingCall = sb.call(username, { ...options, signal: globalThis.pendingAbort.signal }).then(
      (call) => ({ ok: true, info: track(call, Math.round(performance.now() - started)) }),
      (err) => ({ ok: false, code: err.code, message: err.message }),
    );
  },
  callOutcome: () => globalThis.pendingCall,
  /** Cancels the call startCall() began (its AbortSignal). */
  cancelCall: () => globalThis.pendingAbort.abort(),
  rings: () =>
    rings.map((r) => ({ from: r.incoming.from, fromDevice: r.incoming.fromDevice, sessionId: r.incoming.sessionId, state: r.incoming.state, closedAs: r.closedAs })),
  waitForRing: (timeoutMs) => waitFor('a ring', () => rings.length > 0, timeoutMs),
  waitForRingEnd: (index, timeoutMs) => waitFor('the ringing to stop', () => rings[index].incoming.state !== 'ringing', timeoutMs),
  async accept(index, options) {
    const call = await rings[index].incoming.accept(options);
    return track(call);
  },
  /** accept() that reports how it ended instead of throwing: {ok, info} or {ok: false, code}. */
  acceptOutcome: (index, options) =>
    rings[index].incoming.accept(options).then(
      (call) => ({ ok: true, info: track(call) }),
      (err) => ({ ok: false, code: err.code, message: err.message }),
    ),
  reject: (index) => rings[index].incoming.reject(),
  autoAccept: (options) => void (autoAcceptOptions = options),
  /** Resolves once the callee side of `sessionId` exists and is connected (auto-accepted calls). */
  waitForCall: (sessionId, timeoutMs) => waitFor(`call ${sessionId}`, () => calls.get(sessionId)?.call.pc.connectionState === 'connected', timeoutMs),
  info: (sessionId) => describe(sessionId),
  send: (sessionId, text) => calls.get(sessionId).call.channel.send(text),
  waitForMessage: (sessionId, text, timeoutMs) => waitFor(`message "${text}"`, () => calls.get(sessionId)?.messages.includes(text), timeoutMs),
  waitForState: (sessionId, state, timeoutMs) => waitFor(`connectionState ${state}`, () => calls.get(sessionId).call.pc.connectionState === state, timeoutMs),
  waitForClose: (sessionId, timeoutMs) => waitFor('the call to close', () => calls.get(sessionId).closes.length > 0, timeoutMs),
  selectedPair: (sessionId) => selectedPair(calls.get(sessionId).call.pc),
  restartIce: (sessionId) => calls.get(sessionId).call.pc.restartIce(),
  hangup: (sessionId) => calls.get(sessionId).call.hangup(),
  errors: () => errors,
  signals: () => signals,
  acceptOutcomes: () => acceptOutcomes,
  waitForAcceptOutcome: (timeoutMs) => waitFor('an accept() outcome', () => acceptOutcomes.length > 0, timeoutMs),
  waitForSignal: (payload, timeoutMs) => waitFor(`signal "${payload}"`, () => signals.some((x) => x.payload === payload), timeoutMs),
  waitForError: (code, timeoutMs) => waitFor(`error ${code}`, () => errors.some((e) => e.startsWith(`${code}:`)), timeoutMs),
  /** sb.send(), reporting {ok, code} instead of throwing. */
  sendText: (username, text) =>
    sb.send(username, 'custom', text).then(
      () => ({ ok: true }),
      (e) => ({ ok: false, code: e.code }),
    ),
  /** sb.call() to someone, reporting {ok, code, ms} (how long until it settled). */
  async callOutcome2(username, options) {
    const started = performance.now();
    return sb.call(username, options).then(
      (call) => ({ ok: true, info: track(call), ms: Math.round(performance.now() - started) }),
      (e) => ({ ok: false, code: e.code, ms: Math.round(performance.now() - started) }),
    );
  },
  trust: (username) => sb.peers.trust(username),
  safetyNumber: (username) => sb.peers.safetyNumber(username),
  verify: (username, value) =>
    sb.peers.verify(username, value).then(
      (t) => ({ ok: true, state: t.state }),
      (e) => ({ ok: false, code: e.code }),
    ),
  acceptChange: (username) => sb.peers.acceptChange(username),
  start: () => sb.start(),
  stop: () => sb?.stop(),
};
