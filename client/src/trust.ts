import type { DeviceKeys } from './keys.js';
import { SignalboxError } from './errors.js';
import type { PeerKeys, PeerStatus } from './peers.js';
import { confirms, safetyNumber, scannableCode, type Party } from './safetyNumber.js';
import type { Session } from './session.js';

export type TrustState = 'unverified' | 'verified' | 'changed';

/** `peers.trust()`: where this device stands with a peer's key (docs/protocol.md "Pinning and consent"). */
export interface TrustInfo {
  /**
   * - `unverified`: the served key is the pinned one, pinned on first use;
   * - `verified`: the served key is the pinned one and the user confirmed it (verify);
   * - `changed`: the server serves another key than the pinned one; nothing goes to it or is taken
   *   from it until `acceptChange` or `verify`.
   */
  state: TrustState;
  /** The fingerprint the server serves now: the one `safetyNumber` is of, and `verify`/`acceptChange` would pin. */
  fingerprint: string;
  /** The pinned fingerprint (differs from `fingerprint` only when `changed`). */
  pinnedFingerprint: string;
  /** 60 digits in 12 groups of 5, the same on both sides. */
  safetyNumber: string;
  /** The same pair in a QR-friendly form: `signalbox-safety:1:<user>:<fingerprint>:<user>:<fingerprint>`. */
  scannable: string;
}

/** `sb.peers`: the app's say over which keys of its peers are trusted. */
export class Peers {
  constructor(
    private readonly session: Session,
    private readonly deviceKeys: DeviceKeys,
    private readonly keys: PeerKeys,
  ) {}

  /** The trust state of `username`'s key (pinned on first use if not yet). */
  async trust(username: string): Promise<TrustInfo> {
    const status = await this.keys.status(username);
    return this.describe(status, status.pin.fingerprint, status.pin.verified);
  }

  /** The safety number of this account and `username`, from the key the server serves for them now. */
  async safetyNumber(username: string): Promise<string> {
    return (await this.trust(username)).safetyNumber;
  }

  /**
   * Marks `username`'s served key verified when `safetyNumberOrFingerprint` (the 60 digits, the peer's
   * fingerprint, or the scannable form, as compared out of band) confirms it; that also accepts a
   * changed key. A mismatch rejects `verification_failed` and changes nothing.
   */
  async verify(username: string, safetyNumberOrFingerprint: string): Promise<TrustInfo> {
    if (typeof safetyNumberOrFingerprint !== 'string') throw new SignalboxError('validation_failed', 'Pass the safety number or fingerprint as a string.');
    const status = await this.keys.status(username);
    const [me, peer] = await this.parties(status);
    if (!(await confirms(safetyNumberOrFingerprint, me, peer))) {
      throw new SignalboxError('verification_failed', `That is not the safety number (or fingerprint) of ${status.username}'s current key: do not trust it.`, {
        details: { username: status.username, fingerprint: status.served.fingerprint },
      });
    }
    const pin = await this.keys.pinServed(status, true);
    return this.describe(status, pin.fingerprint, true);
  }

  /** Trusts the key `username` has now in place of the pinned one: it becomes the pin, `unverified`. */
  async acceptChange(username: string): Promise<TrustInfo> {
    const status = await this.keys.status(username);
    if (status.pin.fingerprint === status.served.fingerprint) return this.describe(status, status.pin.fingerprint, status.pin.verified);
    const pin = await this.keys.pinServed(status, false);
    return this.describe(status, pin.fingerprint, false);
  }

  private async describe(status: PeerStatus, pinned: string, verified: boolean): Promise<TrustInfo> {
    const [me, peer] = await this.parties(status);
    const state: TrustState = pinned !== status.served.fingerprint ? 'changed' : verified ? 'verified' : 'unverified';
    return { state, fingerprint: peer.fingerprint, pinnedFingerprint: pinned, safetyNumber: await safetyNumber(me, peer), scannable: scannableCode(me, peer) };
  }

  private async parties(status: PeerStatus): Promise<[Party, Party]> {
    const user = this.session.user;
    if (!user) throw new SignalboxError('signed_out', 'Not signed in.');
    const mine = await this.deviceKeys.fingerprint();
    return [
      { username: user.username, fingerprint: mine },
      { username: status.username, fingerprint: status.served.fingerprint },
    ];
  }
}
