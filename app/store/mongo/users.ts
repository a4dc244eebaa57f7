import { MongoServerError, type Collection, type Db } from 'mongodb';
import { prefixUpperBound } from '../prefix.js';
import { DuplicateError, type PgpKeyRecord, type UserRecord, type UserStore } from '../types.js';

export interface UserDoc {
  _id: string;
  username: string;
  emailIndex: string;
  emailEnc: string;
  birthdayEnc: string | null;
  passwordHash: string;
  createdAt: Date;
  /** Absent on documents written before keys existed; read as null. */
  pgp?: PgpKeyRecord | null;
  /** Absent on documents written before accounts could be disabled; read as null. */
  disabledAt?: Date | null;
}

const toRecord = ({ _id, ...rest }: UserDoc): UserRecord => ({ id: _id, ...rest, pgp: rest.pgp ?? null, disabledAt: rest.disabledAt ?? null });

export async function mongoUsersIndexes(db: Db): Promise<void> {
  const users = db.collection<UserDoc>('users');
  await users.createIndex({ username: 1 }, { unique: true });
  await users.createIndex({ emailIndex: 1 }, { unique: true });
}

export function mongoUsers(db: Db): UserStore {
  const users: Collection<UserDoc> = db.collection<UserDoc>('users');
  const sessions = db.collection('sessions');
  const refreshTokens = db.collection('refreshTokens');

  return {
    async create({ id, ...rest }) {
      try {
        await users.insertOne({ _id: id, ...rest });
      } catch (err) {
        if (err instanceof MongoServerError && err.code === 11000) {
          throw new DuplicateError(err.keyPattern && 'username' in err.keyPattern ? 'username' : 'email');
        }
        throw err;
      }
    },
    async findById(id) {
      const doc = await users.findOne({ _id: id });
      return doc ? toRecord(doc) : null;
    },
    async findByUsername(username) {
      const doc = await users.findOne({ username });
      return doc ? toRecord(doc) : null;
    },
    async findByEmailIndex(emailIndex) {
      const doc = await users.findOne({ emailIndex });
      return doc ? toRecord(doc) : null;
    },
    async setPasswordHash(id, passwordHash) {
      return (await users.updateOne({ _id: id }, { $set: { passwordHash } })).matchedCount > 0;
    },
    async setPgpKey(id, key) {
      return (await users.updateOne({ _id: id }, { $set: { pgp: key } })).matchedCount > 0;
    },
    async search(prefix, excludeId, limit) {
      // An anchored range rather than a regex: nothing to escape, and the username index serves
      // both the range and the sort (the hint makes sure the planner does not pick _id for `$ne`).
      const docs = await users
        .find({ username: { $gte: prefix, $lt: prefixUpperBound(prefix) }, _id: { $ne: excludeId } })
        .hint({ username: 1 })
        .sort({ username: 1 })
        .limit(limit)
        .project<{ username: string; pgp?: { fingerprint: string } | null }>({ _id: 0, username: 1, 'pgp.fingerprint': 1 })
        .toArray();
      return docs.map((d) => ({ username: d.username, fingerprint: d.pgp?.fingerprint ?? null }));
    },
    async delete(id) {
      // No multi-document transaction needed: sessions go first, so access ends before the account.
      const sessionIds = (await sessions.find({ userId: id }, { projection: { _id: 1 } }).toArray()).map((s) => s._id);
      await sessions.deleteMany({ userId: id });
      await refreshTokens.deleteMany({ sessionId: { $in: sessionIds } });
      await db.collection<{ _id: string }>('resetCodes').deleteOne({ _id: id });
      await db.collection<{ _id: string }>('twoFactor').deleteOne({ _id: id });
      const mailboxes = db.collection<{ _id: string; signals: Array<{ senderId: string }> }>('mailboxes');
      await mailboxes.deleteOne({ _id: id });
      await mailboxes.updateMany({ 'signals.senderId': id }, { $pull: { signals: { senderId: id } } });
      const deleted = (await users.deleteOne({ _id: id })).deletedCount > 0;
      // After the user, not before: a connection request racing this deletion checks that both users
      // exist after inserting (mongo/connections.ts), so whichever comes second cleans up.
      await db.collection('connections').deleteMany({ $or: [{ lowId: id }, { highId: id }] });
      await db.collection<{ _id: string }>('presence').deleteOne({ _id: id });
      return deleted;
    },
    async setDisabled(id, disabledAt) {
      // The flag first, then the sessions: a login racing this checks the flag after inserting its
      // session (mongo/sessions.ts), so whichever comes second removes that session.
      if ((await users.updateOne({ _id: id }, { $set: { disabledAt } })).matchedCount === 0) return false;
      if (disabledAt) {
        const sessionIds = (await sessions.find({ userId: id }, { projection: { _id: 1 } }).toArray()).map((s) => s._id);
        await sessions.deleteMany({ userId: id });
        await refreshTokens.deleteMany({ sessionId: { $in: sessionIds } });
      }
      return true;
    },
    async list(afterUsername, limit) {
      const docs = await users
        .find(afterUsername === null ? {} : { username: { $gt: afterUsername } })
        .sort({ username: 1 })
        .limit(limit)
        .toArray();
      return docs.map(toRecord);
    },
    async count() {
      return users.countDocuments();
    },
  };
}
