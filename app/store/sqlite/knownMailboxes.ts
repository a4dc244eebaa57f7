import type { SignalRecord } from '../types.js';

/**
 * How many devices' mailboxes are remembered, and how many payload characters in all (a device whose
 * entries would pass that is forgotten instead); past the first the memo starts over. Correct either way:
 * a device not in it is simply read.
 */
export const KNOWN_DEVICES_MAX = 200_000;
export const KNOWN_PAYLOAD_CHARS_MAX = 32 * 2 ** 20;

interface Known {
  /** When the mailbox was read empty: an answer for an earlier time (a clock set back) is not given. */
  since: number;
  /** Every entry that has arrived since, lowest sequence first. */
  entries: SignalRecord[];
}

/**
 * What this connection knows a device's mailbox holds, so that most polls need no read (bench/README.md):
 * a mailbox read empty, plus exactly the entries committed into it since, as their commit announced them.
 * That is what a held poll woken by a send reads, so it answers from memory.
 *
 * The owner (signals.ts) keeps it true:
 * - `readEmpty` after a read that found no live entry;
 * - `committed` after a commit, with the devices it wrote to and, for each, the entries as stored (null
 *   when the commit does not say: that device is forgotten). A device not known stays unknown: what it held
 *   before is not known.
 * - `forget` whenever an entry leaves a mailbox, whatever removed it (a TEMP trigger, so cascades too),
 *   and `clear` when another connection wrote to the file.
 * Forgetting is always safe: the next poll reads.
 */
export class KnownMailboxes {
  private readonly known = new Map<string, Known>();
  private chars = 0;

  /** The device's live entries at `now`, oldest first, at most `limit`; null when not known. */
  entries(deviceId: string, now: number, limit: number): SignalRecord[] | null {
    const k = this.known.get(deviceId);
    if (!k || k.since > now) return null;
    const live: SignalRecord[] = [];
    for (const e of k.entries) {
      if (e.expiresAt.getTime() <= now) continue;
      live.push(e);
      if (live.length === limit) break;
    }
    return live;
  }

  readEmpty(deviceId: string, at: number): void {
    this.forget(deviceId);
    if (this.known.size >= KNOWN_DEVICES_MAX) this.clear();
    this.known.set(deviceId, { since: at, entries: [] });
  }

  /** After a commit: these devices received these entries (in sequence order), or something unsaid (null). */
  committed(deviceId: string, entries: readonly SignalRecord[] | null): void {
    const k = this.known.get(deviceId);
    if (!k) return;
    if (entries === null) {
      this.forget(deviceId);
      return;
    }
    let added = 0;
    for (const e of entries) added += e.payload.length;
    if (this.chars + added > KNOWN_PAYLOAD_CHARS_MAX) {
      this.forget(deviceId);
      return;
    }
    k.entries.push(...entries);
    this.chars += added;
  }

  forget(deviceId: string): void {
    const k = this.known.get(deviceId);
    if (!k) return;
    for (const e of k.entries) this.chars -= e.payload.length;
    this.known.delete(deviceId);
  }

  clear(): void {
    this.known.clear();
    this.chars = 0;
  }
}
