import type { Db } from 'mongodb';
import type { SignalRecord } from '../types.js';
import type { MailboxDoc, MongoMailboxWrites } from './mailboxes.js';

/** A mailbox as written before sessions were devices: keyed by the recipient's user id, no `userId`. */
interface UserMailboxDoc {
  _id: string;
  lastSeq?: number;
  signals?: Array<Omit<SignalRecord, 'senderDeviceId'> & { senderDeviceId?: string | null }>;
}

/**
 * Moves each per-user mailbox (API v1.0) to every live session of its user, with the same sequence
 * numbers and `lastSeq`, so nothing pending is lost and a cursor handed out before the upgrade still
 * acknowledges the same entries; then removes it. A user with no live session has no device to deliver
 * to, and their signals (which expire within SIGNAL_TTL anyway) go. Each user's move is one transaction,
 * so a crash leaves that mailbox moved or not; with none left it only runs one indexed query, so it is
 * safe at every start. Answers how many per-user mailboxes it moved.
 */
export async function migrateUserMailboxes(db: Db, mailbox: MongoMailboxWrites, now: Date): Promise<number> {
  const mailboxes = db.collection<MailboxDoc>('mailboxes');
  const legacy = db.collection<UserMailboxDoc>('mailboxes');
  // {userId: null} matches a missing field, through the userId index; every device mailbox has one.
  const userIds = (await legacy.find({ userId: null }, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
  let moved = 0;
  for (const userId of userIds) {
    const done = await mailbox.transact(async (session) => {
      const old = await legacy.findOne({ _id: userId, userId: null }, { session });
      if (!old) return false; // moved by another instance starting at the same time
      const signals: SignalRecord[] = (old.signals ?? [])
        .filter((s) => s.expiresAt > now)
        .map((s) => ({ ...s, senderDeviceId: s.senderDeviceId ?? null })); // signals then had no sending device
      const lastSeq = old.lastSeq ?? 0;
      for (const device of await mailbox.devicesOf(userId, now, session)) {
        const existing = await mailboxes.findOne({ _id: device.id }, { session, projection: { lastSeq: 1 } });
        if (!existing) {
          await mailboxes.insertOne({ _id: device.id, userId, lastSeq, signals }, { session });
          continue;
        }
        // The device already got entries of its own (an upgraded instance wrote to it first): the old
        // ones follow them, renumbered, since a device's sequence must only go up.
        const renumbered = signals.map((s, n) => ({ ...s, seq: existing.lastSeq + n + 1 }));
        await mailboxes.updateOne(
          { _id: device.id },
          { $push: { signals: { $each: renumbered } }, $set: { lastSeq: existing.lastSeq + renumbered.length } },
          { session },
        );
      }
      await legacy.deleteOne({ _id: userId }, { session });
      return true;
    });
    if (done) moved++;
  }
  return moved;
}
