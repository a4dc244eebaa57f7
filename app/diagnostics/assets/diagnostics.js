// @ts-check
// The diagnostics page (GET /diagnostics): sign in (or a throwaway account), then three checks, each an
// element with data-check and data-status (running | pass | fail), a sentence that says what to fix,
// and the figure measured. Served under `default-src 'self'`: no inline script, nothing from elsewhere.
import { secondDeviceChecks } from './secondDevice.js';
import { RELAY_TIMEOUT_MS, gatherRelay, loopbackCall } from './webrtcChecks.js';

/**
 * @typedef {{ urls: string | string[], username?: string, credential?: string }} IceServer
 * @typedef {{ request: (method: string, path: string, options?: { body?: unknown }) => Promise<any> }} SessionLike
 * @typedef {{ login(input: object): Promise<unknown>, register(input: object): Promise<unknown>, logout(): Promise<void>, internals: { session: SessionLike } }} SignalboxLike
 */

/** The SDK this server serves; imported by URL at run time so a missing build shows as a sentence, not a blank page. */
const SDK_URL = '/sdk/signalbox.js';

const form = /** @type {HTMLFormElement} */ (document.getElementById('sign-in'));
const throwawayButton = /** @type {HTMLButtonElement} */ (document.getElementById('throwaway'));
const secondDeviceButton = /** @type {HTMLButtonElement} */ (document.getElementById('second-device'));
const statusLine = /** @type {HTMLElement} */ (document.getElementById('status'));
const list = /** @type {HTMLOListElement} */ (document.getElementById('checks'));

/** @param {string} text @param {boolean} [error] */
function say(text, error = false) {
  statusLine.textContent = text;
  statusLine.classList.toggle('error', error);
}

/** @returns {Promise<new (options?: object) => any>} */
async function importSdk() {
  try {
    return (await import(SDK_URL)).Signalbox;
  } catch (err) {
    throw new Error(`The client SDK did not load from ${SDK_URL} (${errorText(err)}): run \`npm run build\` on the server.`);
  }
}

/** @returns {Promise<SignalboxLike>} */
async function loadSdk() {
  const Signalbox = await importSdk();
  return new Signalbox(); // in-memory storage: nothing of this visit stays in the browser
}

/** @param {unknown} err */
const errorText = (err) => (err instanceof Error ? err.message : String(err));

/** 16 random hex digits. */
function randomHex() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * One check as it runs: its element appears at once with data-status="running", then shows pass or
 * fail with its sentence and figure. `run` returns the check's outcome.
 * @template T
 * @param {string} id
 * @param {string} title
 * @param {() => Promise<{ pass: boolean, sentence: string, figure?: string, data?: Record<string, string | number>, value?: T }>} run
 * @returns {Promise<{ pass: boolean, value?: T }>}
 */
async function check(id, title, run) {
  const item = document.createElement('li');
  item.dataset.check = id;
  item.dataset.status = 'running';
  const name = document.createElement('span');
  name.className = 'check-name';
  name.textContent = title;
  const status = document.createElement('span');
  status.className = 'check-status';
  status.textContent = 'running';
  const sentence = document.createElement('p');
  sentence.className = 'check-sentence';
  sentence.textContent = 'Running…';
  const figure = document.createElement('span');
  figure.className = 'check-figure';
  item.append(name, status, sentence, figure);
  list.append(item);
  let outcome;
  try {
    outcome = await run();
  } catch (err) {
    outcome = { pass: false, sentence: `The check itself failed: ${errorText(err)}` };
  }
  for (const [key, value] of Object.entries(outcome.data ?? {})) item.dataset[key] = String(value);
  sentence.textContent = outcome.sentence;
  figure.textContent = outcome.figure ?? '';
  status.textContent = outcome.pass ? 'pass' : 'fail';
  item.dataset.status = outcome.pass ? 'pass' : 'fail';
  return { pass: outcome.pass, ...(outcome.value === undefined ? {} : { value: outcome.value }) };
}

/** @param {IceServer} server */
const urlsOf = (server) => (Array.isArray(server.urls) ? server.urls : [server.urls]);
/** @param {IceServer[]} servers */
const turnUrlsOf = (servers) => servers.flatMap(urlsOf).filter((u) => /^turns?:/i.test(u));

/** @param {SignalboxLike} sb */
async function runChecks(sb) {
  list.replaceChildren();
  document.body.dataset.diagnostics = 'running';

  const ice = await check('ice-servers', 'ICE servers (GET /signaling/ice-servers)', async () => {
    /** @type {{ iceServers: IceServer[], ttl: number }} */
    const answer = await sb.internals.session.request('GET', '/signaling/ice-servers');
    const all = answer.iceServers.flatMap(urlsOf);
    const turn = turnUrlsOf(answer.iceServers);
    if (turn.length === 0) {
      return {
        pass: false,
        sentence:
          'No TURN server configured (TURN_URLS): calls between networks that block direct connections will fail. ' +
          "Set TURN_URLS and TURN_SECRET (coturn static-auth-secret) in the server's .env and restart it.",
        figure: all.length > 0 ? `only ${all.join(', ')}` : 'no ICE servers at all',
        value: answer.iceServers,
      };
    }
    return {
      pass: true,
      sentence: `${turn.length} TURN URL${turn.length === 1 ? '' : 's'} with credentials valid for ${answer.ttl} s.`,
      figure: all.join(', '),
      value: answer.iceServers,
    };
  });
  const iceServers = ice.value ?? [];
  const turnUrls = turnUrlsOf(iceServers).join(', ') || '(none)';

  const relay = await check('turn-relay', 'A relay address from the TURN server', async () => {
    if (!ice.pass) return { pass: false, sentence: 'Not tried: no TURN server configured (TURN_URLS), see above.' };
    const result = await gatherRelay(iceServers, RELAY_TIMEOUT_MS);
    if (result.ok) {
      const c = result.candidate;
      return {
        pass: true,
        sentence: `The TURN server gave a relay address in ${result.ms} ms.`,
        figure: `relay candidate ${c.address}:${c.port} (${c.protocol})`,
        data: { relayAddress: `${c.address}:${c.port}`, gatherMs: result.ms },
      };
    }
    const refusal = result.errors.find((e) => e.errorCode === 401 || e.errorCode === 403 || e.errorCode === 431);
    if (refusal) {
      return {
        pass: false,
        sentence:
          `coturn refused the credentials: TURN_SECRET differs from static-auth-secret (or the clocks of this server ` +
          `and the TURN server disagree by more than TURN_TTL). ${refusal.url} answered ${refusal.errorCode} ${refusal.errorText}.`,
      };
    }
    const seconds = RELAY_TIMEOUT_MS / 1000;
    const answered = result.errors.map((e) => `${e.url}: ${e.errorCode} ${e.errorText}`).join('; ');
    return {
      pass: false,
      sentence:
        `No relay candidate within ${seconds} s: is coturn running and reachable at ${turnUrls}? ` +
        'Check that it listens on that address and port, and that a firewall lets this browser reach it (UDP and TCP).' +
        (answered ? ` Errors seen: ${answered}.` : ''),
    };
  });

  await check('loopback-call', 'A relay-only call between two peer connections in this page', async () => {
    if (!relay.pass) return { pass: false, sentence: 'Not tried: there is no relay address to call through (see above).' };
    try {
      const r = await loopbackCall(iceServers);
      return {
        pass: true,
        sentence: `A relay-only call connected in ${r.setupMs} ms; its data channel carried messages with a round trip of ${r.rttMs} ms.`,
        figure: `setup ${r.setupMs} ms · data-channel RTT ${r.rttMs} ms · ${r.local.address}:${r.local.port} (${r.local.type}) ↔ ${r.remote.address}:${r.remote.port} (${r.remote.type})`,
        data: { setupMs: r.setupMs, rttMs: r.rttMs, localType: r.local.type },
      };
    } catch (err) {
      return {
        pass: false,
        sentence:
          `The relay-only call did not connect: ${errorText(err)}. The TURN server must relay between its own relay ` +
          "addresses: check coturn's denied-peer-ip / allowed-peer-ip (and allow-loopback-peers when it relays on 127.0.0.1).",
      };
    }
  });
  document.body.dataset.diagnostics = 'done';
}

/**
 * Signs in (or registers a throwaway account), runs the checks, then signs out; the throwaway account
 * is deleted, so a diagnostics visit leaves nothing behind on the server.
 * @param {(sb: SignalboxLike) => Promise<{ password: string, throwaway: boolean }>} signIn
 */
async function session(signIn) {
  for (const el of form.querySelectorAll('button, input')) /** @type {HTMLButtonElement | HTMLInputElement} */ (el).disabled = true;
  try {
    const sb = await loadSdk();
    say('Signing in…');
    const { password, throwaway } = await signIn(sb);
    say('Running the checks…');
    await runChecks(sb);
    if (throwaway) await sb.internals.session.request('DELETE', '/users/me', { body: { password } });
    else await sb.logout();
    say(throwaway ? 'Done. The throwaway account was deleted.' : 'Done. Signed out.');
  } catch (err) {
    say(errorText(err), true);
  } finally {
    for (const el of form.querySelectorAll('button, input')) /** @type {HTMLButtonElement | HTMLInputElement} */ (el).disabled = false;
  }
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const data = new FormData(form);
  const username = String(data.get('username') ?? '');
  const password = String(data.get('password') ?? '');
  void session(async (sb) => {
    await sb.login({ username, password, device: { name: 'Diagnostics page', platform: 'web' } });
    return { password, throwaway: false };
  });
});

throwawayButton.addEventListener('click', () => {
  void session(async (sb) => {
    const username = `diag_${randomHex()}`;
    const password = `${randomHex()}${randomHex()}`;
    await sb.register({ username, email: `${username}@diagnostics.invalid`, password, device: { name: 'Diagnostics page', platform: 'web' } });
    return { password, throwaway: true };
  });
});

/** @param {boolean} disabled */
function setFormDisabled(disabled) {
  for (const el of form.querySelectorAll('button, input')) /** @type {HTMLButtonElement | HTMLInputElement} */ (el).disabled = disabled;
}

// The second-device walk-through (secondDevice.js): two throwaway accounts, deleted afterwards.
secondDeviceButton.addEventListener('click', () => {
  void (async () => {
    setFormDisabled(true);
    try {
      const Signalbox = await importSdk();
      list.replaceChildren();
      document.body.dataset.diagnostics = 'running';
      say('Walking through a second device…');
      await secondDeviceChecks(Signalbox, check);
      document.body.dataset.diagnostics = 'done';
      say('Done. The throwaway accounts were deleted.');
    } catch (err) {
      say(errorText(err), true);
    } finally {
      setFormDisabled(false);
    }
  })();
});

document.body.dataset.diagnostics = 'ready';
