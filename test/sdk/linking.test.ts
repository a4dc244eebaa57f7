import { describe, expect, it } from '@jest/globals';
import { decrypt, readMessage, readPrivateKey } from 'openpgp';
import { generateDeviceKey, readPrivate, readPublicKey } from '../../client/src/crypto.js';
import { sealEnvelope } from '../../client/src/envelope.js';
import { MemoryStorage, SignalboxError, type Signalbox } from '../../client/src/index.js';
import type { FetchLike } from '../../client/src/http.js';
import { useSdkHarness } from './harness.js';

// docs/protocol.md "Device linking": devices.requestLink() on the new device, devices.approveLink(code)
// on one that has the key, through the real server.

const h = useSdkHarness();
const PASSWORD = 'correct horse battery';
const CODE = /^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$/;

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => null,
    (e: unknown) => e as SignalboxError,
  );

/** A fetch that lets `rewrite` change a JSON request body before it leaves, and records every body sent. */
function interceptingFetch(rewrite: (url: string, body: Record<string, unknown>) => Promise<Record<string, unknown>> = async (_u, b) => b) {
  const sent: Array<{ url: string; body: Record<string, unknown> }> = [];
  const fetchFn: FetchLike = async (url, init) => {
    let body = init?.body;
    if (body !== undefined) {
      const parsed = await rewrite(url, JSON.parse(body) as Record<string, unknown>);
      body = JSON.stringify(parsed);
      sent.push({ url: new URL(url).pathname, body: parsed });
    }
    return fetch(url, { ...init, body });
  };
  return { fetch: fetchFn, sent };
}

/** A second device of the account: its own empty storage, signed in, no key yet. */
async function newDevice(username: string, options: { fetch?: FetchLike; now?: () => number } = {}) {
  const storage = new MemoryStorage();
  const sb = h.client({ storage, ...options });
  await sb.login({ username, password: PASSWORD });
  return { sb, storage };
}

/** Resolves once `sb` has received a link request (its 'event' handlers see `link.requested`). */
function linkRequested(sb: Signalbox): Promise<{ deviceId: string; expiresAt: string }> {
  return new Promise((resolve) =>
    sb.on('event', (e) => {
      if (e.type === 'link.requested') resolve(e.payload as { deviceId: string; expiresAt: string });
    }),
  );
}

describe('devices.requestLink() and devices.approveLink(code)', () => {
  it('gives the new device the account key: it can then read what peers send', async () => {
    const ana = await h.user('ana');
    const bob = await h.user('bob');
    await h.connect(ana, bob);
    const phone = await newDevice(ana.user!.username);
    expect((await failure(phone.sb.keys.ensure()))?.code).toBe('key_elsewhere');

    const link = await phone.sb.devices.requestLink();
    expect(link.code).toMatch(CODE);
    expect(link.qr).toBe(`signalbox-link:1:${link.code.replace(/-/g, '')}`);
    const approved = await ana.devices.approveLink(link.code.toLowerCase().replace(/-/g, ' ')); // typed loosely
    expect(approved).toEqual({ deviceId: phone.sb.deviceId, fingerprint: ana.user!.pgp!.fingerprint });
    expect(await link.done).toEqual({ fingerprint: ana.user!.pgp!.fingerprint });
    expect(await phone.sb.keys.ensure()).toEqual({ fingerprint: ana.user!.pgp!.fingerprint });

    const got = new Promise<string>((resolve) => phone.sb.on('signal', (s) => resolve(s.payload)));
    await bob.send(ana.user!.username, 'custom', 'hello phone');
    expect(await got).toBe('hello phone');
  });

  it('takes the QR payload as the code', async () => {
    const ana = await h.user('ana');
    const phone = await newDevice(ana.user!.username);
    const link = await phone.sb.devices.requestLink();
    await ana.devices.approveLink(link.qr);
    expect(await link.done).toEqual({ fingerprint: ana.user!.pgp!.fingerprint });
  });

  it('refuses (link_mismatch) a request whose one-time key the relay substituted, and sends no key', async () => {
    const ana = await h.user('ana');
    const accountPublic = await readPublicKey(ana.user!.pgp!.publicKey);
    // The "server": every link request the phone sends is replaced, on the way, by one carrying a key
    // the relay made (it can: the account's public key is public), well-formed and correctly signed.
    const relay = interceptingFetch(async (url, body) => {
      if (!url.endsWith('/signaling/send') || !String(body.sessionId).startsWith('signalbox-link:')) return body;
      const mine = await generateDeviceKey('relay');
      const linkId = String(body.sessionId).slice('signalbox-link:'.length);
      const forged = { kind: 'link.request', linkId, oneTimeKey: mine.publicKey, expiresAt: Date.now() + 600_000 };
      const address = {
        from: ana.user!.username,
        fromDevice: phone.sb.deviceId!,
        to: ana.user!.username,
        toDevice: null,
        type: 'custom',
        sessionId: String(body.sessionId),
      };
      const { armored } = await sealEnvelope(address, JSON.stringify(forged), accountPublic, await readPrivate(mine.privateKey));
      return { ...body, payload: armored };
    });
    const phone = await newDevice(ana.user!.username, { fetch: relay.fetch });
    const approver = interceptingFetch();
    const desk = h.client({ storage: new MemoryStorage(), fetch: approver.fetch });
    await desk.login({ username: ana.user!.username, password: PASSWORD });
    await desk.keys.import(await ana.keys.export());

    const arrived = linkRequested(desk);
    const link = await phone.sb.devices.requestLink();
    desk.start();
    await arrived;
    const error = await failure(desk.devices.approveLink(link.code));
    expect(error).toBeInstanceOf(SignalboxError);
    expect(error?.code).toBe('link_mismatch');
    expect(approver.sent.filter((r) => r.url === '/signaling/send')).toEqual([]);
  });

  it('works once: the same code again is link_used', async () => {
    const ana = await h.user('ana');
    const phone = await newDevice(ana.user!.username);
    const link = await phone.sb.devices.requestLink();
    await ana.devices.approveLink(link.code);
    await link.done;
    expect((await failure(ana.devices.approveLink(link.code)))?.code).toBe('link_used');
  });

  it('lapses after 10 minutes on the approving device (link_expired)', async () => {
    let lead = 0;
    const ana = await h.user('ana', { now: () => Date.now() + lead });
    const phone = await newDevice(ana.user!.username);
    const arrived = linkRequested(ana);
    ana.start();
    const link = await phone.sb.devices.requestLink();
    await arrived;
    lead = 10 * 60_000 + 1000;
    expect((await failure(ana.devices.approveLink(link.code)))?.code).toBe('link_expired');
  });

  it('lapses after 10 minutes on the new device: done rejects link_expired and no key is kept', async () => {
    const ana = await h.user('ana');
    let lead = 0;
    const phone = await newDevice(ana.user!.username, { now: () => Date.now() + lead });
    const link = await phone.sb.devices.requestLink();
    lead = 10 * 60_000 + 1000;
    await ana.devices.approveLink(link.code);
    expect((await failure(link.done))?.code).toBe('link_expired');
    expect(phone.storage.getItem(`signalbox.privateKey.${ana.user!.username}`)).toBeNull();
  });

  it('ends when the new device is stopped: done rejects link_expired and the request is not sent again', async () => {
    const ana = await h.user('ana');
    const probe = interceptingFetch();
    const phone = await newDevice(ana.user!.username, { fetch: probe.fetch });
    const link = await phone.sb.devices.requestLink();
    const sends = () => probe.sent.filter((s) => s.url === '/signaling/send').length;
    const sentBeforeStop = sends();
    await phone.sb.stop();
    expect((await failure(link.done))?.code).toBe('link_expired');
    // Without the stop, done would wait out its 10 minutes and the request be sent again every 2.
    expect(sends()).toBe(sentBeforeStop);
  });

  it('never sends the private key in a form the server can read: only to the one-time key, never to the account key', async () => {
    const anaStorage = new MemoryStorage();
    const ana = await h.user('ana', { storage: anaStorage });
    const wire = interceptingFetch();
    const desk = h.client({ storage: new MemoryStorage(), fetch: wire.fetch });
    await desk.login({ username: ana.user!.username, password: PASSWORD });
    await desk.keys.import(await ana.keys.export());
    const phoneWire = interceptingFetch();
    const phone = await newDevice(ana.user!.username, { fetch: phoneWire.fetch });

    const link = await phone.sb.devices.requestLink();
    await desk.devices.approveLink(link.code);
    await link.done;

    const all = [...wire.sent, ...phoneWire.sent];
    for (const { body } of all) expect(JSON.stringify(body)).not.toContain('PRIVATE KEY');
    const sends = all.filter((r) => r.url === '/signaling/send');
    expect(sends).toHaveLength(2); // the request and the answer
    for (const { body } of sends) expect(body.payload).toMatch(/^-----BEGIN PGP MESSAGE-----/);
    const answer = sends.find((r) => r.body.toDevice === phone.sb.deviceId)!;
    const accountKey = await readPrivateKey({ armoredKey: await ana.keys.export() });
    const message = await readMessage({ armoredMessage: answer.body.payload as string });
    const accountIds = accountKey.getKeyIDs().map((id) => id.toHex());
    expect(
      message
        .getEncryptionKeyIDs()
        .map((id) => id.toHex())
        .filter((id) => accountIds.includes(id)),
    ).toEqual([]);
    await expect(decrypt({ message, decryptionKeys: accountKey })).rejects.toThrow();
  });

  it("refuses to approve from a device whose key is not the account's published one (key_mismatch)", async () => {
    const ana = await h.user('ana');
    const desk = h.client({ storage: new MemoryStorage() });
    await desk.login({ username: ana.user!.username, password: PASSWORD });
    await desk.keys.import(await ana.keys.export());
    await ana.keys.forget();
    await ana.keys.ensure({ replace: true }); // the account moved on to a new key; desk still holds the old one
    const phone = await newDevice(ana.user!.username);
    const link = await phone.sb.devices.requestLink();
    expect((await failure(desk.devices.approveLink(link.code)))?.code).toBe('key_mismatch');
  });

  it('devices.list() and devices.remove(id): the phone is listed, then signed out', async () => {
    const ana = await h.user('ana');
    const phone = await newDevice(ana.user!.username);
    const listed = await ana.devices.list();
    expect(listed).toHaveLength(2); // both signed in at the same test-clock instant, so in no defined order
    expect(listed).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: ana.deviceId, current: true }), expect.objectContaining({ id: phone.sb.deviceId, current: false })]),
    );
    await ana.devices.remove(phone.sb.deviceId!);
    expect((await ana.devices.list()).map((d) => d.id)).toEqual([ana.deviceId]);
    expect((await failure(ana.devices.remove('nope')))?.code).toBe('not_found');
  });
});
