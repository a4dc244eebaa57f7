import type { Collection, Db } from 'mongodb';
import type { SessionRecord, SessionStore } from '../types.js';

interface SessionDoc {
  _id: string;
  userId: string;
  createdAt: Date;
  expiresAt: Date;
}

interface TokenDoc {
  _id: string; // the token hash
  sessionId: string;
  usedAt: Date | null;
  expiresAt: Date;
}

const toRecord = ({ _id, ...rest }: SessionDoc): SessionRecord => ({ id: _id, ...rest });

export async function mongoSessionsIndexes(db: Db): Promise<void> {
  const sessions = db.collection<SessionDoc>('sessions');
  const tokens = db.collection<TokenDoc>('refreshTokens');
  await sessions.createIndex({ userId: 1 });
  // TTL indexes let MongoDB drop expired rows itself (within about a minute); reads still check expiry.
  await sessions.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
  await tokens.createIndex({ sessionId: 1 });
  await tokens.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
}

export function mongoSessions(db: Db): SessionStore {
  const sessions: Collection<SessionDoc> = db.collection<SessionDoc>('sessions');
  const tokens: Collection<TokenDoc> = db.collection<TokenDoc>('refreshTokens');
  const users = db.collection<{ _id: string; disabledAt?: Date | null }>('users');

  const remove = async (id: string) => {
    const { deletedCount } = await sessions.deleteOne({ _id: id });
    await tokens.deleteMany({ sessionId: id });
    return deletedCount > 0;
  };

  return {
    async create(s, refreshHash) {
      await sessions.insertOne({ _id: s.id, userId: s.userId, createdAt: s.createdAt, expiresAt: s.expiresAt });
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
      // The conditional update is the compare-and-swap: of two concurrent rotations only one matches.
      const claimed = await tokens.updateOne({ _id: oldHash, usedAt: null }, { $set: { usedAt: now } });
      if (claimed.modifiedCount === 0) return reused();
      await tokens.insertOne({ _id: newHash, sessionId: session._id, usedAt: null, expiresAt });
      await sessions.updateOne({ _id: session._id }, { $set: { expiresAt } });
      return { outcome: 'rotated', session: toRecord({ ...session, expiresAt }) };
    },
    delete: remove,
    async deleteByUser(userId, keepSessionId) {
      const filter = keepSessionId ? { userId, _id: { $ne: keepSessionId } } : { userId };
      const ids = (await sessions.find(filter, { projection: { _id: 1 } }).toArray()).map((s) => s._id);
      const { deletedCount } = await sessions.deleteMany({ _id: { $in: ids } });
      await tokens.deleteMany({ sessionId: { $in: ids } });
      return deletedCount;
    },
    async purgeExpired(now) {
      await tokens.deleteMany({ expiresAt: { $lte: now } });
      return (await sessions.deleteMany({ expiresAt: { $lte: now } })).deletedCount;
    },
    async countActive(now) {
      return sessions.countDocuments({ expiresAt: { $gt: now } });
    },
  };
}
