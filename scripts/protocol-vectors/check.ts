/**
 * Runs the protocol's test vectors through the SDK's own code: the receive path every polled signal
 * takes (client/src/inbox.ts `openSignal`: decrypt, verify against the pinned key, re-fetch the served
 * key on a bad signature, check the envelope against the signal, log the nonce), the call-message
 * decoder, safety numbers, link codes and key backups. The generator runs it before it writes a vector,
 * and test/sdk/protocolVectors.test.ts runs it on the committed files.
 */
import { decodePayload } from '../../client/src/calls/protocol.js';
import { decryptWithPassphrase, fingerprintOf, readPrivate } from '../../client/src/crypto.js';
import { NonceLog, type Envelope } from '../../client/src/envelope.js';
import { SignalboxError } from '../../client/src/errors.js';
import { openSignal } from '../../client/src/inbox.js';
import { parseBackup } from '../../client/src/keys.js';
import { formatCode, linkDigest, parseCode } from '../../client/src/linkCode.js';
import { PeerKeys } from '../../client/src/peers.js';
import type { Session } from '../../client/src/session.js';
import { safetyNumber } from '../../client/src/safetyNumber.js';
import { MemoryStorage } from '../../client/src/storage.js';
import type { SignalType, WireSignal } from '../../client/src/types.js';
import { SIGNAL_TTL_MS, type KeyName, type OuterSignal, type Outcome, type VectorKeys } from './spec.js';

/** What the receive path made of one signal. */
export interface Opened {
  // eslint-disable-next-line @typescript-eslint/no-redundant-type-constituents -- Outcome names the expected values; any other string is a finding
  outcome: Outcome | string;
  envelope?: Envelope;
  /** The SDK's `details.fields` of a bad_envelope: which signed field disagreed. */
  fields?: string[];
}

export interface ReceiveSetup {
  receiver: { username: string; deviceId: string; key: KeyName };
  sender: { pinnedKey: KeyName; servedKey: KeyName };
  seenNonces: Array<{ nonce: string; signalId: string; ts: number }>;
  signal: OuterSignal;
  now: number;
}

/**
 * Opens `setup.signal` as the receiving device would: its key, the sender's key pinned in its storage,
 * the server's answer for the sender's profile serving `servedKey`, and a nonce log holding `seenNonces`.
 */
export async function openVector(keys: VectorKeys, setup: ReceiveSetup): Promise<Opened> {
  const storage = new MemoryStorage();
  const served = keys[setup.sender.servedKey];
  const pinned = keys[setup.sender.pinnedKey];
  // The server's part: who is signed in, and GET /users/{sender} serving `servedKey`.
  const session = {
    user: { username: setup.receiver.username },
    request: async () => ({
      username: setup.signal.from,
      createdAt: '2026-01-01T00:00:00.000Z',
      pgp: { fingerprint: served.fingerprint, algorithm: 'ed25519', createdAt: '2026-01-01T00:00:00.000Z', expiresAt: null, publicKey: served.publicKey },
    }),
  } as unknown as Session;
  const peers = new PeerKeys(session, storage, () => {});
  await peers.pin(setup.signal.from, pinned.fingerprint, pinned.publicKey);
  const nonces = new NonceLog(
    storage,
    () => `signalbox.nonces.${setup.receiver.username}`,
    () => SIGNAL_TTL_MS,
  );
  for (const seen of setup.seenNonces) await nonces.check(seen.nonce, seen.signalId, seen.ts, setup.now);
  const privateKey = await readPrivate(keys[setup.receiver.key].privateKey);
  // The type as the server sends it; a vector may carry one the receiver must refuse, which is what is checked.
  const wire: WireSignal = { ...setup.signal, type: setup.signal.type as SignalType, payload: setup.signal.payload ?? '' };
  try {
    const envelope = await openSignal(
      wire,
      { keys: { privateKey: async () => privateKey }, peers, me: () => setup.receiver, nonces, signalTtlMs: SIGNAL_TTL_MS },
      { now: setup.now },
    );
    return { outcome: 'accept', envelope };
  } catch (err) {
    if (!(err instanceof SignalboxError)) throw err;
    const fields = err.details?.fields;
    return { outcome: err.code, ...(Array.isArray(fields) ? { fields: fields as string[] } : {}) };
  }
}

/** The call message the SDK's decoder reads from an accepted envelope (null: not a call message). */
export const callMessageOf = (envelope: Envelope) => decodePayload(envelope.type, envelope.body);

export const safetyNumberOf = safetyNumber;

/** The link code for a one-time key's fingerprint, as shown, and what parsing `input` gives (null: refused). */
export async function linkCodeOf(fingerprint: string): Promise<string> {
  return formatCode(await linkDigest(fingerprint));
}
export function parsedCode(input: string): string | null {
  try {
    return formatCode(parseCode(input));
  } catch {
    return null;
  }
}

/** Opens a key backup as `keys.loadBackup` does (after fetching it): the account and fingerprint inside, or the SDK's code. */
export async function openBackup(armored: string, passphrase: string): Promise<{ username: string; fingerprint: string } | { error: string }> {
  try {
    const content = parseBackup(await decryptWithPassphrase(armored, passphrase));
    const key = await readPrivate(content.privateKey);
    return { username: content.username, fingerprint: fingerprintOf(key) };
  } catch (err) {
    if (err instanceof SignalboxError) return { error: err.code };
    throw err;
  }
}
