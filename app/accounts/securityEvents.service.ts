import type { Logger } from 'pino';
import type { EventOrigin } from '../core/caller.js';
import { coarseNetwork } from '../core/clientNetwork.js';
import { decryptNetwork, decryptPlatform, encryptNetwork } from '../core/personalData.js';
import type { Clock } from '../lib/clock.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import { newId } from '../lib/ids.js';
import type { SecurityEventRecord, SecurityEventType, Store } from '../store/types.js';

export type { EventOrigin };

/** The origin of an action with no device and no request: the operator's (admin CLI). */
export const OPERATOR: EventOrigin = Object.freeze({ deviceId: null, ip: null });

/** One entry of the security log as its owner reads it (docs/api.md, GET /users/me/security-events). */
export interface SecurityEventView {
  id: string;
  type: SecurityEventType;
  at: Date;
  deviceId: string | null;
  platform: string | null;
  network: string | null;
  actor: SecurityEventRecord['actor'];
}

export interface SecurityEventsDeps {
  store: Pick<Store, 'securityEvents' | 'sessions'>;
  cipher: FieldCipher;
  clock: Clock;
  /** SECURITY_EVENTS_TTL: how long an entry is kept. */
  ttlSeconds: number;
  /**
   * Where an entry that could not be written is reported. With it, `record` never fails the request whose
   * change already happened (a 2FA enable must still hand out its recovery codes); without it (the admin
   * CLI) the error is thrown, so the operator sees it.
   */
  logger?: Pick<Logger, 'error'>;
}

/**
 * The per-account security log (docs/security.md, "The security log"). Each feature calls `record` at
 * the place that causes the entry; the network is kept coarse (IPv4 /24, IPv6 /48) and encrypted, and
 * the platform is the device's own, as its session stored it.
 */
export class SecurityEvents {
  constructor(private readonly d: SecurityEventsDeps) {}

  /** Appends an entry to `userId`'s log; `actor` is `admin` for the operator's actions. */
  async record(userId: string, type: SecurityEventType, origin: EventOrigin, actor: 'user' | 'admin' = 'user'): Promise<void> {
    try {
      await this.write(userId, type, origin, actor);
    } catch (err) {
      if (!this.d.logger) throw err;
      // The change it records is done; losing its log entry is better than answering its request with an error.
      this.d.logger.error({ err, type }, 'security event not written');
    }
  }

  private async write(userId: string, type: SecurityEventType, origin: EventOrigin, actor: 'user' | 'admin'): Promise<void> {
    const now = this.d.clock.now();
    // The platform as the session stored it (already encrypted, bound to user and device): copied, not re-read later,
    // so the entry keeps it after the device signs out.
    const session = origin.deviceId === null ? null : await this.d.store.sessions.findById(origin.deviceId);
    const network = origin.ip === null ? null : coarseNetwork(origin.ip);
    await this.d.store.securityEvents.add({
      id: newId(),
      userId,
      type,
      at: new Date(now),
      deviceId: origin.deviceId,
      platformEnc: session?.userId === userId ? session.devicePlatformEnc : null,
      networkEnc: encryptNetwork(this.d.cipher, userId, network),
      actor,
      expiresAt: new Date(now + this.d.ttlSeconds * 1000),
    });
  }

  /** The user's newest `limit` entries, newest first, decrypted for their owner. */
  async list(userId: string, limit: number): Promise<SecurityEventView[]> {
    const records = await this.d.store.securityEvents.list(userId, new Date(this.d.clock.now()), limit);
    return records.map((r) => ({
      id: r.id,
      type: r.type,
      at: r.at,
      deviceId: r.deviceId,
      platform: r.deviceId === null ? null : decryptPlatform(this.d.cipher, userId, r.deviceId, r.platformEnc),
      network: decryptNetwork(this.d.cipher, userId, r.networkEnc),
      actor: r.actor,
    }));
  }
}
