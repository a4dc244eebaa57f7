import type { Db } from 'mongodb';
import type { SignalRecord } from '../types.js';
import { mailboxCounters, mailboxEntries, type MailboxEntryDoc, type MongoMailboxWrites } from './mailboxes.js';

/** An entry as the array shapes held it; entries of API v1.0 had no sending device. */
type ArrayEntry = Omit<SignalRecord, 'senderDeviceId'> & { senderDeviceId?: string | null };

/**
 * A mailbox document of an earlier shape, in the collection that now holds the counters:
 * - per user (API v1.0): keyed by the recipient's user id, no `userId`;
 * - per device with every entry in an array (API v1.1, before mailbox entries became one document each): `userId` and `signals`.
 */
interface OldMailboxDoc {
  _id: string;
  userId?: string | null;
  lastSeq?: number;
  signals?: ArrayEntry[];
}

const liveCopies = (signals: ArrayEntry[] | undefined, deviceId: string, now: Date): MailboxEntryDoc[] =>
  (signals ?? [])
    .filter((s) => s.expiresAt > now)
    .map((s) => ({
      id: s.id,
      seq: s.seq,
      senderId: s.senderId,
      senderUsername: s.senderUsername,
      senderDeviceId: s.senderDeviceId ?? null,
      type: s.type,
      payload: s.payload,
      sessionId: s.sessionId,
      createdAt: s.createdAt,
      expiresAt: s.expiresAt,
      deviceId,
    }));

/**
 * Moves every mailbox of an earlier shape to counters and one document per entry (mailboxes.ts), with
 * the same sequence numbers, so nothing pending is lost and a cursor handed out before the upgrade still
 * acknowledges the same entries. Expired entries are left behind. Each mailbox moves in one transaction,
 * so a crash leaves it moved or not, and a second instance starting at the same time skips what the
 * first moved. With nothing left it runs two queries (one indexed, one over the small counters), so it
 * is safe at every start. Answers how many old documents it moved.
 */
export async function migrateUserMailboxes(db: Db, mailbox: MongoMailboxWrites, now: Date): Promise<number> {
  return (await moveDeviceArrays(db, mailbox, now)) + (await moveUserMailboxes(db, mailbox, now));
}

/** Per-device documents holding their entries in an array: the entries become documents, the counter stays. */
async function moveDeviceArrays(db: Db, mailbox: MongoMailboxWrites, now: Date): Promise<number> {
  const old = db.collection<OldMailboxDoc>('mailboxes');
  const ids = (await old.find({ signals: { $exists: true }, userId: { $ne: null } }, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
  let moved = 0;
  for (const deviceId of ids) {
    const done = await mailbox.transact(async (session) => {
      const doc = await old.findOne({ _id: deviceId, signals: { $exists: true } }, { session });
      if (!doc) return false; // moved by another instance starting at the same time
      const copies = liveCopies(doc.signals, deviceId, now);
      // The numbers are the counter's own (lastSeq stays), so no copy written since can share one.
      if (copies.length > 0) await mailboxEntries(db).insertMany(copies, { session, ordered: true });
      await old.updateOne({ _id: deviceId }, { $unset: { signals: '' } }, { session });
      return true;
    });
    if (done) moved++;
  }
  return moved;
}

/**
 * Per-user mailboxes (API v1.0) go to every live session of their user. A user with no live session
 * has no device to deliver to, and their signals (which expire within SIGNAL_TTL anyway) go.
 */
async function moveUserMailboxes(db: Db, mailbox: MongoMailboxWrites, now: Date): Promise<number> {
  const legacy = db.collection<OldMailboxDoc>('mailboxes');
  const counters = mailboxCounters(db);
  // {userId: null} matches a missing field, through the userId index; every device counter has one.
  const userIds = (await legacy.find({ userId: null }, { projection: { _id: 1 } }).toArray()).map((d) => d._id);
  let moved = 0;
  for (const userId of userIds) {
    const done = await mailbox.transact(async (session) => {
      const old = await legacy.findOne({ _id: userId, userId: null }, { session });
      if (!old) return false; // moved by another instance starting at the same time
      const lastSeq = old.lastSeq ?? 0;
      for (const device of await mailbox.devicesOf(userId, now, session)) {
        const copies = liveCopies(old.signals, device.id, now);
        const existing = await counters.findOne({ _id: device.id }, { session, projection: { lastSeq: 1 } });
        if (!existing) {
          await counters.insertOne({ _id: device.id, userId, lastSeq }, { session });
        } else {
          // The device already got entries of its own (an upgraded instance wrote to it first): the old
          // ones follow them, renumbered, since a device's sequence must only go up.
          copies.forEach((c, n) => (c.seq = existing.lastSeq + n + 1));
          await counters.updateOne({ _id: device.id }, { $set: { lastSeq: existing.lastSeq + copies.length } }, { session });
        }
        if (copies.length > 0) await mailboxEntries(db).insertMany(copies, { session, ordered: true });
      }
      await legacy.deleteOne({ _id: userId }, { session });
      return true;
    });
    if (done) moved++;
  }
  return moved;
}
