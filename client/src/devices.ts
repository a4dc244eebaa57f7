import type { Linking, LinkApproval, LinkRequest } from './linking.js';
import type { Session } from './session.js';

/** A signed-in device of the account, as `GET /users/me/devices` lists it. */
export interface DeviceInfo {
  id: string;
  name: string | null;
  platform: string | null;
  createdAt: string;
  lastSeen: string | null;
  /** True for the device asking. */
  current: boolean;
}

/** The account's devices: list and sign out (docs/api.md Devices), and give a new one the account key (linking.ts). */
export class Devices {
  constructor(
    private readonly session: Session,
    private readonly linking: Linking,
  ) {}

  /** Every signed-in device of the account, oldest first. */
  async list(): Promise<DeviceInfo[]> {
    return (await this.session.request<{ devices: DeviceInfo[] }>('GET', '/users/me/devices')).devices;
  }

  /** Signs that device out at once (its tokens, held polls and mailbox end); `not_found` when it is not one of this account's. */
  async remove(deviceId: string): Promise<void> {
    await this.session.request('DELETE', `/users/me/devices/${encodeURIComponent(deviceId)}`);
  }

  /**
   * On a new device (signed in, no key yet): makes a one-time key pair and asks the account's other
   * devices for the key. Show `code` (or `qr`) to the user; `done` resolves once a device approved it
   * and the account key is stored here. Starts the poll loop if it is not running.
   */
  requestLink(): Promise<LinkRequest> {
    return this.linking.request();
  }

  /**
   * On a device that has the key, with the code the new device shows: sends the account's private key,
   * encrypted to the new device's one-time key and signed, to that device only. Rejects `link_mismatch`
   * when no pending request carries the key the code commits to, `link_used` for a code used already,
   * `link_expired` after 10 minutes, `link_not_found` when no request arrived within 30 s.
   */
  approveLink(code: string): Promise<LinkApproval> {
    return this.linking.approve(code);
  }
}
