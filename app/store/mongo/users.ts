import { MongoServerError, type Collection, type Db } from 'mongodb';
import { DuplicateError, type UserRecord, type UserStore } from '../types.js';

export interface UserDoc {
  _id: string;
  username: string;
  emailIndex: string;
  emailEnc: string;
  birthdayEnc: string | null;
  passwordHash: string;
  createdAt: Date;
}

const toRecord = ({ _id, ...rest }: UserDoc): UserRecord => ({ id: _id, ...rest });

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
    async delete(id) {
      // No multi-document transaction needed: sessions go first, so access ends before the account.
      const sessionIds = (await sessions.find({ userId: id }, { projection: { _id: 1 } }).toArray()).map((s) => s._id);
      await sessions.deleteMany({ userId: id });
      await refreshTokens.deleteMany({ sessionId: { $in: sessionIds } });
      return (await users.deleteOne({ _id: id })).deletedCount > 0;
    },
  };
}
