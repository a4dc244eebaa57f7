import type { Caller, EventOrigin } from '../core/caller.js';
import { notFound } from '../core/errors.js';
import { decryptDevice } from '../core/personalData.js';
import type { Clock } from '../lib/clock.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import type { Store } from '../store/types.js';
import type { EndedSessions } from './accounts.service.js';
import type { SecurityEvents } from './securityEvents.service.js';

// lastSeen is written from authenticated requests; writing on every one would turn each poll into a
// write, so each instance writes one session's activity at most this often (as presence does per user).
// The in-memory map only remembers when it last wrote.
export const DEVICE_SEEN_WRITE_INTERVAL_MS = 30_000;
// Entries older than the interval are useless; past this many sessions the map sweeps them out.
const SWEEP_ABOVE = 10_000;

/** One device (session) as its owner sees it, decrypted. */
export interface DeviceView {
  id: string;
  name: string | null;
  platform: string | null;
  createdAt: Date;
  lastSeen: Date | null;
  current: boolean;
}

export interface DeviceDeps {
  store: Pick<Store, 'sessions'>;
  cipher: FieldCipher;
  clock: Clock;
  /** Told after a device is removed, so its held polls answer 401 at once (signaling). */
  onSessionsEnded?: (ended: EndedSessions) => void;
  /** The security log: `device.removed`, or `logout` for the calling device. */
  securityEvents: SecurityEvents;
  /** Told when the caller removes its own device: it is signed out, as by a logout (presence). */
  onSignOut?: (userId: string) => Promise<void>;
}

/** The signed-in devices of an account (its sessions): list them, remove one, and record activity. */
export class DeviceService {
  private readonly lastWrite = new Map<string, number>();

  constructor(private readonly d: DeviceDeps) {}

  /** The caller's live sessions, oldest first, the calling one marked `current`. */
  async list(auth: Caller): Promise<DeviceView[]> {
    const sessions = await this.d.store.sessions.listByUser(auth.userId, new Date(this.d.clock.now()));
    return sessions.map((s) => ({
      id: s.id,
      ...decryptDevice(this.d.cipher, s),
      createdAt: s.createdAt,
      lastSeen: s.lastSeen,
      current: s.id === auth.sessionId,
    }));
  }

  /**
   * Ends one of the caller's sessions at once (tokens, held polls). Another user's session and an id
   * that names none get the same 404, so the answer reveals nothing about other accounts.
   */
  async remove(auth: Caller, deviceId: string, origin: EventOrigin): Promise<void> {
    // Removing the calling device is a logout, logged as one, before the session (and its platform) goes.
    const own = deviceId === auth.sessionId;
    if (own) await this.d.securityEvents.record(auth.userId, 'logout', origin);
    if (!(await this.d.store.sessions.deleteOfUser(deviceId, auth.userId))) throw notFound('No such device.');
    if (!own) await this.d.securityEvents.record(auth.userId, 'device.removed', origin);
    this.lastWrite.delete(deviceId);
    this.d.onSessionsEnded?.({ sessionIds: [deviceId] });
    if (deviceId === auth.sessionId) await this.d.onSignOut?.(auth.userId);
  }

  /**
   * Records that the caller's session is active now; cheap on every request (written at most every 30 s):
   * the write when one is due, else undefined (no promise for a request with nothing to write).
   */
  seen(auth: Caller): Promise<void> | undefined {
    const now = this.d.clock.now();
    const last = this.lastWrite.get(auth.sessionId);
    if (last !== undefined && now - last >= 0 && now - last < DEVICE_SEEN_WRITE_INTERVAL_MS) return undefined;
    return this.write(auth, now);
  }

  private async write(auth: Caller, now: number): Promise<void> {
    if (this.lastWrite.size > SWEEP_ABOVE) this.sweep(now);
    this.lastWrite.set(auth.sessionId, now);
    await this.d.store.sessions.touch(auth.sessionId, new Date(now));
  }

  private sweep(now: number): void {
    for (const [id, at] of this.lastWrite) if (now - at >= DEVICE_SEEN_WRITE_INTERVAL_MS) this.lastWrite.delete(id);
  }
}
