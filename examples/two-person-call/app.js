// The two-person call example: sign up, get a key onto this device, find someone, connect, call with a data
// channel (and camera/microphone when there are any), check safety numbers, link a second device. Everything
// here is the SDK served by this same server (/sdk/signalbox.js); see examples/README.md.
import { Signalbox } from '/sdk/signalbox.js';
import { $, describeError, fill, guarded, h, show, status } from './ui.js';

// sessionStorage: each tab is its own device (two tabs of one browser can be the two people). Use
// localStorage in a real app, so the session and the key survive closing the tab.
const sb = new Signalbox({ storage: sessionStorage });

/** The call on screen (a Call), the ringing one (an IncomingCall), and the media we send. */
let current = null;
let ringing = null;
let localStream = null;

// ---- signing in and the key ------------------------------------------------------------------------

$('auth-form').addEventListener(
  'submit',
  guarded(async (event) => {
    const form = new FormData(event.target);
    const action = event.submitter?.value ?? 'login';
    const device = { name: `${navigator.userAgent.includes('Firefox') ? 'Firefox' : 'Browser'} (example app)`, platform: 'web' };
    const username = String(form.get('username'));
    const password = String(form.get('password'));
    status(action === 'register' ? 'Creating the account…' : 'Signing in…');
    if (action === 'register') await sb.register({ username, email: String(form.get('email')), password, device });
    else await sb.login({ username, password, device });
    await signedIn();
  }),
);

/** After sign-in or a restored session: the key, then the app. */
async function signedIn() {
  $('me').textContent = `@${sb.user.username}`;
  show(['me', 'sign-out']);
  show('auth', false);
  try {
    await sb.keys.ensure();
  } catch (err) {
    if (err.code !== 'key_elsewhere' && err.code !== 'key_mismatch') throw err;
    show('key');
    status('This device has no copy of your key yet.');
    return;
  }
  await enterApp();
}

async function enterApp() {
  show('key', false);
  show('app');
  sb.start();
  status(`Signed in as @${sb.user.username}. Search for the other person and connect.`);
  await Promise.all([refreshRequests(), refreshContacts(), refreshDevices()]);
}

$('load-backup').addEventListener(
  'submit',
  guarded(async (event) => {
    const { fingerprint } = await sb.keys.loadBackup(String(new FormData(event.target).get('passphrase')));
    status(`Key restored from the backup (${fingerprint.slice(0, 16)}…).`);
    await enterApp();
  }),
);

$('link-device').addEventListener(
  'click',
  guarded(async () => {
    const link = await sb.devices.requestLink();
    $('link-code').textContent = link.code;
    show('link-code');
    status('Type this code on a device that has your key, under "Approve a device".');
    await link.done;
    status('Linked: this device now holds your key.');
    await enterApp();
  }),
);

/**
 * A new key pair, published: what a reinstall looks like to contacts (they get the key-change prompt).
 * `ensure({replace: true})` publishes this device's key, so the old one is forgotten first to make a new one.
 */
const replaceKey = guarded(async () => {
  if (!confirm('A new key cuts off your other devices and your contacts will see a key change. Continue?')) return;
  await sb.keys.forget();
  await sb.keys.ensure({ replace: true });
  status('New key published: your contacts will be asked to accept it.');
  await enterApp();
});
$('replace-key').addEventListener('click', replaceKey);
$('new-key').addEventListener('click', replaceKey);

$('save-backup').addEventListener(
  'submit',
  guarded(async (event) => {
    await sb.keys.saveBackup(String(new FormData(event.target).get('passphrase')));
    event.target.reset();
    status('Key backup saved (encrypted here with your passphrase; the server cannot read it).');
  }),
);

$('approve-form').addEventListener(
  'submit',
  guarded(async (event) => {
    await sb.devices.approveLink(String(new FormData(event.target).get('code')));
    event.target.reset();
    status('The new device got your key.');
    await refreshDevices();
  }),
);

$('sign-out').addEventListener(
  'click',
  guarded(async () => {
    current?.hangup();
    await sb.logout();
    location.reload();
  }),
);

// ---- people: search, requests, contacts ----------------------------------------------------------------

$('search-form').addEventListener(
  'submit',
  guarded(async (event) => {
    const q = String(new FormData(event.target).get('q')).replace(/^@/, '');
    // The SDK has no search method: its authenticated request helper (as /diagnostics uses) calls the API.
    const { results } = await sb.internals.session.request('GET', `/users/search?q=${encodeURIComponent(q)}&limit=10`);
    fill(
      'results',
      results.map((r) =>
        h(
          'li',
          {},
          h('span', { class: 'name' }, `@${r.username}`),
          h('button', { type: 'button', 'data-testid': `connect-${r.username}`, onclick: guarded(() => requestConnection(r.username)) }, 'Connect'),
        ),
      ),
      'Nobody by that name.',
    );
  }),
);

async function requestConnection(username) {
  const outcome = await sb.connections.request(username);
  status('connection' in outcome ? `You and @${username} are connected.` : `Asked @${username}; waiting for them to accept.`);
  await Promise.all([refreshRequests(), refreshContacts()]);
}

async function refreshRequests() {
  const { incoming, outgoing } = await sb.connections.pending();
  fill(
    'incoming',
    incoming.map((r) =>
      h(
        'li',
        {},
        h('span', { class: 'name' }, `@${r.from}`),
        h('button', { type: 'button', class: 'primary', 'data-testid': `accept-${r.from}`, onclick: guarded(() => respond(r.from, 'accept')) }, 'Accept'),
        h('button', { type: 'button', onclick: guarded(() => respond(r.from, 'reject')) }, 'Decline'),
      ),
    ),
    'No requests.',
  );
  $('outgoing').textContent = outgoing.length ? `Waiting for ${outgoing.map((r) => `@${r.to}`).join(', ')}.` : '';
}

async function respond(username, action) {
  await sb.connections.respond(username, action);
  status(action === 'accept' ? `You and @${username} are connected: call them.` : `Declined @${username}.`);
  await Promise.all([refreshRequests(), refreshContacts()]);
}

async function refreshContacts() {
  const connections = await sb.connections.list();
  const items = await Promise.all(
    connections.map(async (c) => {
      const trust = await sb.peers.trust(c.username).catch(() => null);
      const badge =
        trust?.state === 'verified'
          ? h('span', { class: 'badge' }, 'verified')
          : trust?.state === 'changed'
            ? h('span', { class: 'badge changed' }, 'key changed')
            : null;
      return h(
        'li',
        {},
        h('span', { class: 'name' }, `@${c.username} `, badge, c.presence?.online ? h('span', { class: 'muted' }, ' · online') : null),
        h('button', { type: 'button', class: 'primary', 'data-testid': `call-${c.username}`, onclick: guarded(() => startCall(c.username, false)) }, 'Chat'),
        h('button', { type: 'button', 'data-testid': `video-${c.username}`, onclick: guarded(() => startCall(c.username, true)) }, 'Video'),
        h('button', { type: 'button', 'data-testid': `safety-${c.username}`, onclick: guarded(() => showTrust(c.username)) }, 'Safety number'),
      );
    }),
  );
  fill('contacts', items, 'No contacts yet.');
}

async function refreshDevices() {
  const devices = await sb.devices.list();
  fill(
    'devices',
    devices.map((d) => h('li', {}, h('span', { class: 'name' }, d.name ?? d.id), d.current ? h('span', { class: 'badge' }, 'this one') : null)),
    'No devices.',
  );
}

// ---- trust: safety numbers and changed keys -----------------------------------------------------------

let trustPeer = null;

/** The safety-number screen; for a changed key, the prompt to verify or accept it (client/README.md). */
async function showTrust(username) {
  const trust = await sb.peers.trust(username);
  trustPeer = username;
  const changed = trust.state === 'changed';
  $('trust-title').textContent = changed ? `@${username}'s security key changed` : `Safety number with @${username}`;
  $('trust-text').textContent = changed
    ? 'This happens when they reinstall or change devices; it could also mean someone is intercepting. Compare safety numbers (in person or on a call) before you continue.'
    : `Compare these digits with the ones @${username} sees. ${trust.state === 'verified' ? 'You verified them already.' : 'If they match, type theirs below and Verify.'}`;
  $('safety-number').textContent = trust.safetyNumber;
  show('accept-change', changed);
  show('trust');
}

$('verify-form').addEventListener(
  'submit',
  guarded(async (event) => {
    await sb.peers.verify(trustPeer, String(new FormData(event.target).get('digits')));
    event.target.reset();
    show('trust', false);
    status(`@${trustPeer}'s key is verified.`);
    await refreshContacts();
  }),
);
$('accept-change').addEventListener(
  'click',
  guarded(async () => {
    await sb.peers.acceptChange(trustPeer);
    show('trust', false);
    status(`Accepted @${trustPeer}'s new key (unverified).`);
    await refreshContacts();
  }),
);
$('trust-close').addEventListener('click', () => show('trust', false));

// ---- calls ----------------------------------------------------------------------------------------------

const callOptions = () => ($('relay-only').checked ? { iceTransportPolicy: 'relay' } : {});

/** Camera and microphone when asked for and present; otherwise a call with the data channel only. */
async function media(video) {
  if (!video || !navigator.mediaDevices?.getUserMedia) return undefined;
  try {
    return await navigator.mediaDevices.getUserMedia({ audio: true, video: true });
  } catch (err) {
    status(`No camera or microphone (${err.name}): a text-only call.`);
    return undefined;
  }
}

async function startCall(username, video) {
  if (current) throw Object.assign(new Error('Hang up the current call first.'), { code: 'busy' });
  localStream = await media(video);
  showCall(username, 'ringing');
  try {
    attach(await sb.call(username, { ...callOptions(), ...(localStream ? { stream: localStream } : {}) }));
  } catch (err) {
    endCall();
    if (err.code === 'key_changed') await showTrust(username);
    throw err;
  }
}

sb.on('call', (incoming) => {
  if (current || ringing) return void incoming.reject().catch(() => {});
  ringing = incoming;
  $('ring-from').textContent = `@${incoming.from}`;
  show('ring');
  incoming.on('close', () => {
    if (ringing === incoming) ringing = null;
    show('ring', false);
  });
});

$('answer').addEventListener(
  'click',
  guarded(async () => {
    const incoming = ringing;
    ringing = null;
    show('ring', false);
    if (!incoming) return;
    localStream = await media(true);
    showCall(incoming.from, 'connecting');
    try {
      attach(await incoming.accept({ ...callOptions(), ...(localStream ? { stream: localStream } : {}) }));
    } catch (err) {
      endCall();
      throw err;
    }
  }),
);
$('decline').addEventListener(
  'click',
  guarded(async () => {
    const incoming = ringing;
    ringing = null;
    show('ring', false);
    await incoming?.reject();
  }),
);

function showCall(peer, state) {
  $('call-peer').textContent = `@${peer}`;
  $('call-status').textContent = state;
  $('chat-log').replaceChildren();
  $('local-video').srcObject = localStream ?? null;
  $('remote-video').srcObject = null;
  $('call').querySelector('.videos').classList.toggle('none', !localStream);
  show('call');
}

/** A connected call: its state, its media and its data channel on screen. */
function attach(call) {
  current = call;
  $('call-status').textContent = 'connected';
  call.on('state', (state) => ($('call-status').textContent = state));
  call.on('track', () => {
    const [stream] = call.remoteStreams;
    if (stream) {
      $('remote-video').srcObject = stream;
      $('call').querySelector('.videos').classList.remove('none');
    }
  });
  call.on('close', ({ reason, by }) => {
    status(`Call ended: ${reason} (${by}).`);
    endCall();
  });
  call.channel?.addEventListener('message', (e) => say(String(e.data), false));
  status(`In a call with @${call.peer}. Messages go over the data channel, peer to peer.`);
}

function endCall() {
  current = null;
  for (const track of localStream?.getTracks() ?? []) track.stop();
  localStream = null;
  $('call-status').textContent = 'ended';
  show('call', false);
}

function say(text, mine) {
  const log = $('chat-log');
  log.append(h('li', { class: mine ? 'mine' : '' }, h('span', {}, text)));
  log.scrollTop = log.scrollHeight;
}

$('chat-form').addEventListener(
  'submit',
  guarded(async (event) => {
    const text = String(new FormData(event.target).get('text')).trim();
    if (!text || !current?.channel || current.channel.readyState !== 'open') return;
    current.channel.send(text);
    say(text, true);
    event.target.reset();
  }),
);
$('hang-up').addEventListener('click', () => {
  current?.hangup();
  endCall();
});

// ---- what the server and the SDK tell us -----------------------------------------------------------------

sb.on('event', (e) => {
  const refresh = guarded(async () => {
    if (e.type.startsWith('connection.')) await Promise.all([refreshRequests(), refreshContacts()]);
    if (e.type === 'connection.requested') status(`@${e.payload?.from ?? 'someone'} wants to connect.`);
    // The SDK's own pgp.changed (with previousFingerprint) comes once per new key: show the prompt.
    if (e.type === 'pgp.changed' && e.payload?.previousFingerprint) await showTrust(e.payload.username);
    if (e.type === 'link.requested') status('A new device of yours asks for your key: type the code it shows under "Approve a device".');
  });
  void refresh();
});
sb.on('error', (err) => {
  if (err.code === 'key_changed' && err.details?.username) void guarded(() => showTrust(err.details.username))();
  else status(describeError(err), true);
});
sb.on('state', (state) => {
  if (state === 'signed-out') location.reload();
});

// A reloaded tab resumes its session (sessionStorage keeps it until the tab closes).
void guarded(async () => {
  if (await sb.restore()) await signedIn();
})();
