// @ts-check
// The diagnostics page's walk-through of a user's second device (v1.2, docs/protocol.md "Device linking"
// and "Key backup"; client/README.md "Several devices"): two throwaway accounts, each SDK instance in
// memory standing for one device, and each step shown as a check (data-check, data-status) whose
// sentence and figure are what an app would show: the link code, the safety-number screen, the
// key-change prompt. Both accounts are deleted at the end.

/**
 * @typedef {{ pass: boolean, sentence: string, figure?: string, data?: Record<string, string | number> }} Outcome
 * @typedef {(id: string, title: string, run: () => Promise<Outcome>) => Promise<{ pass: boolean }>} CheckFn
 * @typedef {any} Sdk the SDK instance, driven through its public surface only
 */

/** 16 random hex digits. */
function randomHex() {
  const bytes = new Uint8Array(8);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** @param {unknown} err */
const codeOf = (err) => (typeof err === 'object' && err !== null && 'code' in err ? String(/** @type {{ code: unknown }} */ (err).code) : String(err));

/** A fingerprint or safety number in groups, as people compare them. @param {string} text @param {number} size */
const grouped = (text, size) => (text.replace(/\s/g, '').match(new RegExp(`.{1,${size}}`, 'g')) ?? []).join(' ');

/** @param {Sdk} sb */
const hasTrust = (sb) => typeof sb.peers?.safetyNumber === 'function' && typeof sb.peers?.acceptChange === 'function';
const NO_TRUST = "This server's SDK has no peers.safetyNumber / peers.acceptChange (v1.2 trust): update Signalbox and rebuild (npm run build).";

/**
 * Runs the walk-through, each step through `check`.
 * @param {new (options?: object) => Sdk} Signalbox
 * @param {CheckFn} check
 */
export async function secondDeviceChecks(Signalbox, check) {
  const device = { name: 'Diagnostics page', platform: 'web' };
  /** @type {Array<{ sb: Sdk, password: string }>} */
  const accounts = [];
  /** @param {string} prefix @returns {Promise<{ sb: Sdk, username: string, password: string }>} */
  const throwaway = async (prefix) => {
    const sb = new Signalbox();
    const username = `${prefix}_${randomHex()}`;
    const password = `${randomHex()}${randomHex()}`;
    await sb.register({ username, email: `${username}@diagnostics.invalid`, password, device });
    accounts.push({ sb, password });
    await sb.keys.ensure();
    return { sb, username, password };
  };
  /** Another device of `who`: signed in, no key yet. @param {{ username: string, password: string }} who */
  const newDevice = async (who) => {
    const sb = new Signalbox();
    await sb.login({ username: who.username, password: who.password, device: { name: 'Diagnostics: new device', platform: 'web' } });
    return sb;
  };

  try {
    const ana = await throwaway('diag');
    const bob = await throwaway('diagpeer');
    await ana.sb.connections.request(bob.username);
    await bob.sb.connections.respond(ana.username, 'accept');
    const fingerprint = ana.sb.user.pgp.fingerprint;

    await check('device-link', 'A second device by link code (devices.requestLink, devices.approveLink)', async () => {
      const phone = await newDevice(ana);
      try {
        const started = performance.now();
        const link = await phone.devices.requestLink(); // the new device shows link.code (or link.qr as a QR code)
        await ana.sb.devices.approveLink(link.code); // the user types it on the device that has the key
        const got = await link.done;
        const ms = Math.round(performance.now() - started);
        const pass = got.fingerprint === fingerprint;
        return {
          pass,
          sentence: pass
            ? `The new device showed ${link.code}; entered on the first device, the key arrived encrypted to the new device's one-time key in ${ms} ms.`
            : `The new device got key ${got.fingerprint}, not the account's ${fingerprint}.`,
          figure: `code ${link.code} · key ${grouped(got.fingerprint, 4)}`,
          data: { code: link.code, linkMs: ms },
        };
      } finally {
        await phone.logout();
      }
    });

    await check('key-backup', 'A second device from the key backup (keys.saveBackup, keys.loadBackup)', async () => {
      const passphrase = `${randomHex()} ${randomHex()}`;
      await ana.sb.keys.saveBackup(passphrase);
      const laptop = await newDevice(ana);
      try {
        const wrong = await laptop.keys.loadBackup(`${passphrase}!`).then(() => 'loaded', codeOf);
        const started = performance.now();
        const got = await laptop.keys.loadBackup(passphrase);
        const ms = Math.round(performance.now() - started);
        const pass = wrong === 'bad_passphrase' && got.fingerprint === fingerprint;
        return {
          pass,
          sentence: pass
            ? `A wrong passphrase was refused (bad_passphrase); the right one opened the backup (argon2) in ${ms} ms and gave the account's key.`
            : `Expected bad_passphrase for a wrong passphrase (got ${wrong}) and the account's key (got ${got.fingerprint}).`,
          figure: `key ${grouped(got.fingerprint, 4)} · opened in ${ms} ms`,
          data: { loadMs: ms },
        };
      } finally {
        await laptop.logout();
      }
    });

    await check('safety-number', `The safety-number screen (peers.safetyNumber)`, async () => {
      if (!hasTrust(ana.sb)) return { pass: false, sentence: NO_TRUST };
      const mine = String(await ana.sb.peers.safetyNumber(bob.username));
      const theirs = String(await bob.sb.peers.safetyNumber(ana.username));
      const digits = mine.replace(/\D/g, '');
      const pass = digits.length === 60 && digits === theirs.replace(/\D/g, '');
      return {
        pass,
        sentence: pass
          ? 'Both sides compute the same 60 digits: compared in person (or scanned), they prove no one is in between.'
          : `The two sides disagree: ${mine} / ${theirs}.`,
        figure: grouped(digits, 5),
      };
    });

    await check('key-change', 'A changed key is never trusted silently (peers.trust, peers.acceptChange)', async () => {
      if (!hasTrust(ana.sb)) return { pass: false, sentence: NO_TRUST };
      await ana.sb.peers.trust(bob.username); // pinned (trust on first use)
      await bob.sb.keys.forget();
      await bob.sb.keys.ensure({ replace: true }); // the peer publishes a new key (a reinstall, or an attacker)
      const changed = await ana.sb.peers.trust(bob.username);
      const refused = await ana.sb.send(bob.username, 'custom', 'hello').then(() => 'sent', codeOf);
      // The prompt an app shows here; this walk-through accepts, as a user who compared safety numbers would.
      const prompt = `${bob.username}'s key changed. Compare safety numbers before you trust it: ${grouped(String(changed.safetyNumber).replace(/\D/g, ''), 5)}`;
      await ana.sb.peers.acceptChange(bob.username);
      const after = await ana.sb.peers.trust(bob.username);
      const pass = changed.state === 'changed' && refused === 'key_changed' && after.state === 'unverified';
      return {
        pass,
        sentence: pass
          ? `Prompt shown: "${prompt}". Until accepted, sending was refused (key_changed); after acceptChange the key is pinned, unverified.`
          : `Expected state changed, key_changed and then unverified; got ${changed.state}, ${refused}, ${after.state}.`,
        figure: prompt,
      };
    });
  } finally {
    for (const { sb, password } of accounts) {
      await sb.stop?.();
      await sb.internals.session.request('DELETE', '/users/me', { body: { password } }).catch(() => {});
    }
  }
}
