import type { Clock } from '../lib/clock.js';
import type { PresenceRecord, Store } from '../store/types.js';
import type { Presence } from './presence.schema.js';

// Presence lives in the store (not only in this process's memory) so every instance sharing a
// MongoDB sees the same answer and a restart forgets nothing. Writing on every request would turn
// each read into a write, so each instance writes one user's activity at most this often; the
// in-memory map below only remembers when it last wrote. Half the presence window at most, so an
// active user never drops out between two writes.
const PRESENCE_WRITE_INTERVAL_MS = 30_000;
// Entries older than the interval are useless; past this many users the map sweeps them out.
const SWEEP_ABOVE = 10_000;

export interface PresenceDeps {
  store: Pick<Store, 'presence' | 'connections'>;
  clock: Clock;
  /** PRESENCE_WINDOW, in seconds. */
  windowSeconds: number;
  /** True while the user holds a long-poll on this instance: online for as long as it is held. */
  isHolding?: (userId: string) => boolean;
}

/**
 * Who is online. Fed by authenticated requests for now (the signaling poll will feed it too);
 * a sign-out makes the user offline at once.
 */
export class PresenceService {
  private readonly lastWrite = new Map<string, number>();
  private readonly writeInterval: number;

  constructor(private readonly d: PresenceDeps) {
    this.writeInterval = Math.min(PRESENCE_WRITE_INTERVAL_MS, (d.windowSeconds * 1000) / 2);
  }

  /**
   * Records that `userId` is active now; cheap when called on every request (server.ts has the router call
   * it for each authenticated one): the write when one is due, else undefined, so a request with nothing
   * to write makes no promise to wait on (the empty short poll's CPU, bench/README.md).
   */
  seen(userId: string): Promise<void> | undefined {
    const now = this.d.clock.now();
    const last = this.lastWrite.get(userId);
    if (last !== undefined && now - last >= 0 && now - last < this.writeInterval) return undefined;
    return this.write(userId, now);
  }

  private async write(userId: string, now: number): Promise<void> {
    if (this.lastWrite.size > SWEEP_ABOVE) this.sweep(now);
    this.lastWrite.set(userId, now);
    await this.d.store.presence.touch(userId, new Date(now));
  }

  /** Makes the user offline at once (logout); their lastSeen stays. */
  async signOut(userId: string): Promise<void> {
    // Forget the throttle, so the very next request (another device, a new login) shows them online again.
    this.lastWrite.delete(userId);
    await this.d.store.presence.signOut(userId, new Date(this.d.clock.now()));
  }

  /** The presence of each of `userIds`, with no visibility check: callers decide who may see it. */
  async of(userIds: readonly string[]): Promise<Map<string, Presence>> {
    const records = new Map((await this.d.store.presence.find(userIds)).map((r) => [r.userId, r]));
    return new Map(userIds.map((id) => [id, this.present(records.get(id), this.d.isHolding?.(id) ?? false)]));
  }

  /**
   * The presence of `targetUserId` as `viewerId` may see it: only oneself and accepted connections
   * get it; anyone else gets undefined (the field is left out, revealing nothing).
   */
  async presenceFor(viewerId: string, targetUserId: string): Promise<Presence | undefined> {
    if (viewerId !== targetUserId) {
      const link = await this.d.store.connections.find(viewerId, targetUserId, new Date(this.d.clock.now()));
      if (link?.state !== 'accepted') return undefined;
    }
    return (await this.of([targetUserId])).get(targetUserId);
  }

  private present(record: PresenceRecord | undefined, holding: boolean): Presence {
    if (!record) return { online: holding, lastSeen: null };
    const seen = record.lastSeen.getTime();
    const signedOut = record.signedOutAt !== null && record.signedOutAt.getTime() >= seen;
    const recent = this.d.clock.now() - seen < this.d.windowSeconds * 1000;
    return { online: holding || (recent && !signedOut), lastSeen: record.lastSeen.toISOString() };
  }

  private sweep(now: number): void {
    for (const [id, at] of this.lastWrite) if (now - at >= this.writeInterval) this.lastWrite.delete(id);
  }
}
