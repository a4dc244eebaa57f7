import type { Collection, Db } from 'mongodb';
import type { SessionRecord, SessionStore } from '../types.js';
import { deleteMailboxes, sweepOrphanMailboxesInTurn } from './mailboxes.js';
import { resilientWatch } from './resilientWatch.js';

/** Re-opening the change stream of ended sessions after an outage: as the arrivals stream (signals.ts). */
const WATCH_BACKOFF = { firstMs: 500, maxMs: 30_000 };

interface SessionDoc {
  _id: string;
  userId: string;
  createdAt: Date;
  expiresAt: Date;
  /** The three below are absent on documents written before sessions were devices; read as null. */
  deviceNameEnc?: string | null;
  devicePlatformEnc?: string | null;
  lastSeen?: Date | null;
}

interface TokenDoc {
  _id: string; // the token hash
  sessionId: string;
  usedAt: Date | null;
  expiresAt: Date;
}

const toRecord = (d: SessionDoc): SessionRecord => ({
  id: d._id,
  userId: d.userId,
  createdAt: d.createdAt,
  expiresAt: d.expiresAt,
  deviceNameEnc: d.deviceNameEnc ?? null,
  devicePlatformEnc: d.devicePlatformEnc ?? null,
  lastSeen: d.lastSeen ?? null,
});

export async function mongoSessionsIndexes(db: Db): Promise<void> {
  const sessions = db.collection<SessionDoc>('sessions');
  const tokens = db.collection<TokenDoc>('refreshTokens');
  await sessions.createIndex({ userId: 1 });
  // TTL indexes let MongoDB drop expired rows itself (within about a minute); reads still check expiry.
  await sessions.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 }, undefined);
  await tokens.createIndex({ sessionId: 1 });
  await tokens.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 }, undefined);
}

export function mongoSessions(db: Db): SessionStore {
  const sessions: Collection<SessionDoc> = db.collection<SessionDoc>('sessions');
  const tokens: Collection<TokenDoc> = db.collection<TokenDoc>('refreshTokens');
  const users = db.collection<{ _id: string; disabledAt?: Date | null }>('users');

  // A session is a device: ending it ends its mailbox. Always the session first, then what hangs off
  // it, so nothing reaches a session that has ended (mailboxes.ts, deleteMailboxes).
  const dropDependents = async (ids: string[]) => {
    await tokens.deleteMany({ sessionId: { $in: ids } });
    await deleteMailboxes(db, ids);
  };

  const remove = async (id: string) => {
    const { deletedCount } = await sessions.deleteOne({ _id: id });
    await dropDependents([id]);
    return deletedCount > 0;
  };

  return {
    async create(s, refreshHash) {
      await sessions.insertOne({
        _id: s.id,
        userId: s.userId,
        createdAt: s.createdAt,
        expiresAt: s.expiresAt,
        deviceNameEnc: s.deviceNameEnc,
        devicePlatformEnc: s.devicePlatformEnc,
        lastSeen: s.lastSeen,
      });
      await tokens.insertOne({ _id: refreshHash, sessionId: s.id, usedAt: null, expiresAt: s.expiresAt });
      // Checked after the insert, so a concurrent account deletion or disabling cannot leave this
      // session behind. `disabledAt: null` also matches documents written before the field existed.
      if ((await users.countDocuments({ _id: s.userId, disabledAt: null }, { limit: 1 })) === 0) {
        await remove(s.id);
        return false;
      }
      return true;
    },
    async findById(id) {
      const doc = await sessions.findOne({ _id: id });
      return doc ? toRecord(doc) : null;
    },
    async rotateRefreshToken(oldHash, newHash, now, expiresAt) {
      const token = await tokens.findOne({ _id: oldHash });
      if (!token) return { outcome: 'invalid' };
      const reused = async () => {
        await remove(token.sessionId);
        return { outcome: 'reused' as const, sessionId: token.sessionId };
      };
      if (token.usedAt !== null) return reused();
      const session = await sessions.findOne({ _id: token.sessionId });
      if (!session || token.expiresAt <= now || session.expiresAt <= now) return { outcome: 'invalid' };
      // The new token and the longer life first, the claim of the old token last, so a failure at any
      // step before the claim leaves the old token usable and the client's retry succeeds (claiming
      // first made a failure mid-rotation look like reuse on that retry, and end the session). Until
      // the claim the new token is unknown to anyone (its hash was never sent), so it grants nothing.
      await tokens.insertOne({ _id: newHash, sessionId: session._id, usedAt: null, expiresAt });
      await sessions.updateOne({ _id: session._id }, { $max: { expiresAt } });
      // The conditional update is the compare-and-swap: of two concurrent rotations only one matches;
      // the other ends the session, its own new token with it (dropDependents).
      const claimed = await tokens.updateOne({ _id: oldHash, usedAt: null }, { $set: { usedAt: now } });
      if (claimed.modifiedCount === 0) return reused();
      return { outcome: 'rotated', session: toRecord({ ...session, expiresAt }) };
    },
    delete: remove,
    async deleteByUser(userId, keepSessionId) {
      const filter = keepSessionId ? { userId, _id: { $ne: keepSessionId } } : { userId };
      const ids = (await sessions.find(filter, { projection: { _id: 1 } }).toArray()).map((s) => s._id);
      const { deletedCount } = await sessions.deleteMany({ _id: { $in: ids } });
      await dropDependents(ids);
      return deletedCount;
    },
    async listByUser(userId, now) {
      const docs = await sessions
        .find({ userId, expiresAt: { $gt: now } })
        .sort({ createdAt: 1, _id: 1 })
        .toArray();
      return docs.map(toRecord);
    },
    async deleteOfUser(id, userId) {
      // The owner is part of the filter, so another user's session id deletes nothing.
      const { deletedCount } = await sessions.deleteOne({ _id: id, userId });
      if (deletedCount === 0) return false;
      await dropDependents([id]);
      return true;
    },
    async touch(id, at) {
      // Conditional, so lastSeen never moves backwards when two instances write out of order.
      await sessions.updateOne({ _id: id, $or: [{ lastSeen: null }, { lastSeen: { $lt: at } }] }, { $set: { lastSeen: at } });
    },
    async trimToMostRecent(userId, keep, protectId, now) {
      // A user has a handful of sessions (served by the userId index): read them, decide, delete by id.
      // No transaction: each sign-in trims after its own insert, so the last trim of concurrent
      // sign-ins sees every insert; deleting an id another trim already deleted is a no-op.
      const all = await sessions.find({ userId }, { projection: { _id: 1, createdAt: 1, expiresAt: 1, lastSeen: 1 } }).toArray();
      const recency = (d: Pick<SessionDoc, '_id' | 'createdAt' | 'lastSeen'>) => (d._id === protectId ? Infinity : (d.lastSeen ?? d.createdAt).getTime());
      const expired = all.filter((d) => d.expiresAt <= now);
      // Least recent first; the protected one sorts last, so it stays (when a concurrent trim already
      // ended it, it is not here and takes no place). The same order as the SQLite adapter.
      const live = all
        .filter((d) => d.expiresAt > now)
        .sort((a, b) => recency(a) - recency(b) || a.createdAt.getTime() - b.createdAt.getTime() || (a._id < b._id ? -1 : a._id > b._id ? 1 : 0));
      const ids = [...expired, ...live.slice(0, Math.max(0, live.length - keep))].map((d) => d._id);
      if (ids.length === 0) return [];
      await sessions.deleteMany({ _id: { $in: ids }, userId });
      await dropDependents(ids);
      return ids;
    },
    async purgeExpired(now) {
      await tokens.deleteMany({ expiresAt: { $lte: now } });
      const { deletedCount } = await sessions.deleteMany({ expiresAt: { $lte: now } });
      // By mailbox rather than by the ids just deleted: MongoDB's TTL index also ends sessions by itself.
      // One instance per turn: the sweep joins every counter with sessions.
      await sweepOrphanMailboxesInTurn(db, now);
      return deletedCount;
    },
    watchEnded(listener, onFailure) {
      // Deletions of session documents, whoever made them (an instance, the admin CLI, the TTL index):
      // only their key, which is the session id, is sent. An invalidate event carries none.
      return resilientWatch<{ documentKey?: { _id: string } }>(
        () => sessions.watch<SessionDoc, { documentKey?: { _id: string } }>([{ $match: { operationType: 'delete' } }, { $project: { documentKey: 1 } }]),
        (change) => {
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion -- the key is what the server sends, not checked against SessionDoc
          if (change.documentKey) listener([String(change.documentKey._id)]);
        },
        // An invalidate event (the collection dropped) carries no key and is the stream's last: a new one opens.
        { backoff: WATCH_BACKOFF, onFailure, isLast: (change) => !change.documentKey },
      );
    },
    async countActive(now) {
      return sessions.countDocuments({ expiresAt: { $gt: now } });
    },
  };
}
