// @ts-check
// The WebRTC measurements of the diagnostics page, with no signaling at all: everything happens
// between peer connections inside one page, so a failure here is the TURN server's or the network's,
// never the signaling server's. Type-checked by app/diagnostics/assets/tsconfig.json (checkJs).

/** How long a relay candidate may take; coturn on a LAN answers in milliseconds. */
export const RELAY_TIMEOUT_MS = 10_000;
/** Bound on a whole loopback call (ICE through the relay and the DTLS handshake). */
export const CALL_TIMEOUT_MS = 15_000;
/** Data-channel round trips measured; the median is reported, so one slow packet does not skew it. */
const RTT_SAMPLES = 5;

/**
 * @typedef {{ type: string, address: string, port: number, protocol: string, url?: string }} CandidateInfo
 * @typedef {{ errorCode: number, errorText: string, url: string }} IceError
 * @typedef {{ ok: true, candidate: CandidateInfo, ms: number } | { ok: false, reason: 'refused' | 'timeout', errors: IceError[] }} RelayResult
 * @typedef {{ setupMs: number, rttMs: number, local: CandidateInfo, remote: CandidateInfo }} LoopbackResult
 */

/**
 * Gathers ICE candidates with `iceTransportPolicy: 'relay'` and reports the first relay candidate,
 * or why none came: 'refused' when the TURN server answered with an error (401: wrong credentials),
 * 'timeout' when nothing came within `timeoutMs` (TURN server down or unreachable).
 * @param {RTCIceServer[]} iceServers
 * @param {number} [timeoutMs]
 * @returns {Promise<RelayResult>}
 */
export async function gatherRelay(iceServers, timeoutMs = RELAY_TIMEOUT_MS) {
  const started = performance.now();
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: 'relay' });
  /** @type {IceError[]} */
  const errors = [];
  try {
    pc.createDataChannel('probe'); // something to negotiate, or there is nothing to gather for
    return await new Promise((resolve) => {
      const timer = setTimeout(() => resolve({ ok: false, reason: errors.length > 0 ? 'refused' : 'timeout', errors }), timeoutMs);
      pc.addEventListener('icecandidateerror', (event) => {
        const e = /** @type {RTCPeerConnectionIceErrorEvent} */ (event);
        errors.push({ errorCode: e.errorCode, errorText: e.errorText, url: e.url });
      });
      pc.addEventListener('icecandidate', (event) => {
        const c = event.candidate;
        if (c && c.type === 'relay') {
          clearTimeout(timer);
          resolve({ ok: true, candidate: candidateInfo(c), ms: Math.round(performance.now() - started) });
        } else if (!c) {
          // Gathering finished without a relay candidate: the errors say why, if the server answered.
          clearTimeout(timer);
          resolve({ ok: false, reason: errors.length > 0 ? 'refused' : 'timeout', errors });
        }
      });
      pc.setLocalDescription().catch(() => resolve({ ok: false, reason: 'timeout', errors }));
    });
  } finally {
    pc.close();
  }
}

/**
 * A relay-only call between two peer connections in this page, their descriptions and candidates
 * handed over directly: the time from the first createOffer to the data channel opening, then the
 * median round trip of small messages over it, and the candidate pair ICE chose.
 * @param {RTCIceServer[]} iceServers
 * @param {number} [timeoutMs]
 * @returns {Promise<LoopbackResult>}
 */
export async function loopbackCall(iceServers, timeoutMs = CALL_TIMEOUT_MS) {
  /** @type {RTCConfiguration} */
  const config = { iceServers, iceTransportPolicy: 'relay' };
  const caller = new RTCPeerConnection(config);
  const callee = new RTCPeerConnection(config);
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  try {
    // Trickle ICE, as a real call does: each candidate goes to the other side as soon as it is found.
    caller.addEventListener('icecandidate', (e) => e.candidate && callee.addIceCandidate(e.candidate).catch(() => {}));
    callee.addEventListener('icecandidate', (e) => e.candidate && caller.addIceCandidate(e.candidate).catch(() => {}));
    const started = performance.now();
    const channel = caller.createDataChannel('diagnostics');
    /** @type {Promise<RTCDataChannel>} */
    const answered = new Promise((resolve) => callee.addEventListener('datachannel', (e) => resolve(e.channel)));
    const opened = new Promise((resolve, reject) => {
      channel.addEventListener('open', resolve);
      caller.addEventListener('connectionstatechange', () => {
        if (caller.connectionState === 'failed') reject(new Error('ICE failed: no working relay path between the two peers'));
      });
    });
    const timeout = new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`the call did not connect within ${timeoutMs / 1000} s`)), timeoutMs);
    });
    const connect = async () => {
      await caller.setLocalDescription();
      await callee.setRemoteDescription(/** @type {RTCSessionDescription} */ (caller.localDescription));
      await callee.setLocalDescription();
      await caller.setRemoteDescription(/** @type {RTCSessionDescription} */ (callee.localDescription));
      await opened;
    };
    await Promise.race([connect(), timeout]);
    const setupMs = Math.round(performance.now() - started);

    const echo = await Promise.race([answered, timeout]);
    echo.addEventListener('message', (/** @type {MessageEvent} */ e) => echo.send(e.data));
    /** @type {number[]} */
    const samples = [];
    for (let i = 0; i < RTT_SAMPLES; i++) samples.push(await Promise.race([roundTrip(channel, `ping ${i}`), timeout]));
    samples.sort((a, b) => a - b);
    const rttMs = Math.round(/** @type {number} */ (samples[Math.floor(samples.length / 2)]) * 100) / 100;
    const pair = await selectedPair(caller);
    return { setupMs, rttMs, ...pair };
  } finally {
    clearTimeout(timer);
    caller.close();
    callee.close();
  }
}

/**
 * Sends `text` and resolves with the milliseconds until it comes back.
 * @param {RTCDataChannel} channel
 * @param {string} text
 * @returns {Promise<number>}
 */
function roundTrip(channel, text) {
  return new Promise((resolve) => {
    const sent = performance.now();
    /** @param {MessageEvent} e */
    const onMessage = (e) => {
      if (e.data !== text) return;
      channel.removeEventListener('message', onMessage);
      resolve(performance.now() - sent);
    };
    channel.addEventListener('message', onMessage);
    channel.send(text);
  });
}

/**
 * The succeeded candidate pair that carries `pc`'s traffic, from getStats().
 * @param {RTCPeerConnection} pc
 * @returns {Promise<{ local: CandidateInfo, remote: CandidateInfo }>}
 */
export async function selectedPair(pc) {
  const stats = await pc.getStats();
  /** @type {Map<string, any>} */
  const byId = new Map();
  stats.forEach((s) => byId.set(s.id, s));
  /** @type {any} */
  let pair;
  for (const s of byId.values()) {
    if (s.type === 'transport' && s.selectedCandidatePairId) pair = byId.get(s.selectedCandidatePairId);
  }
  pair ??= [...byId.values()].find((s) => s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated);
  if (!pair) throw new Error('no succeeded candidate pair in getStats()');
  const local = byId.get(pair.localCandidateId);
  const remote = byId.get(pair.remoteCandidateId);
  return { local: statsCandidate(local), remote: statsCandidate(remote) };
}

/**
 * @param {RTCIceCandidate} c
 * @returns {CandidateInfo}
 */
function candidateInfo(c) {
  const url = /** @type {{ url?: string }} */ (/** @type {unknown} */ (c)).url;
  return { type: c.type ?? 'unknown', address: c.address ?? '', port: c.port ?? 0, protocol: c.protocol ?? '', ...(url ? { url } : {}) };
}

/**
 * @param {any} s an RTCIceCandidateStats
 * @returns {CandidateInfo}
 */
function statsCandidate(s) {
  return { type: s.candidateType, address: s.address ?? s.ip ?? '', port: s.port, protocol: s.protocol, ...(s.url ? { url: s.url } : {}) };
}
