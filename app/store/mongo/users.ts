import { MongoServerError, type ClientSession, type Collection, type Db } from 'mongodb';
import { prefixUpperBound } from '../prefix.js';
import { DuplicateError, type PgpKeyRecord, type UserRecord, type UserStore } from '../types.js';
import { deleteEntriesFrom, deleteMailboxes, type MongoMailboxWrites } from './mailboxes.js';

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
  /** Bumped by transactions that must not interleave with another one about this user (serialiseOn). */
  txnSerial?: number;
}

// Field by field, so nothing internal (txnSerial) ever reaches a record.
const toRecord = (d: UserDoc): UserRecord => ({
  id: d._id,
  username: d.username,
  emailIndex: d.emailIndex,
  emailEnc: d.emailEnc,
  birthdayEnc: d.birthdayEnc,
  passwordHash: d.passwordHash,
  createdAt: d.createdAt,
  pgp: d.pgp ?? null,
  disabledAt: d.disabledAt ?? null,
});

/**
 * Writes each of the users' documents inside the transaction `session` and answers how many exist.
 * Snapshot isolation only catches two transactions writing the same document, so a transaction whose
 * decision rests on users it only reads (that they exist, how many requests one has out, who their
 * connections are) writes them too: a concurrent transaction doing the same, a key change or an
 * account deletion then conflicts with it and one of them runs again on what the other committed.
 */
export async function serialiseOn(db: Db, userIds: readonly string[], session: ClientSession): Promise<number> {
  const users = db.collection<UserDoc>('users');
  return (await users.updateMany({ _id: { $in: [...userIds] } }, { $inc: { txnSerial: 1 } }, { session })).matchedCount;
}

export async function mongoUsersIndexes(db: Db): Promise<void> {
  const users = db.collection<UserDoc>('users');
  await users.createIndex({ username: 1 }, { unique: true }, undefined);
  await users.createIndex({ emailIndex: 1 }, { unique: true }, undefined);
}

export function mongoUsers(db: Db, mailbox: MongoMailboxWrites): UserStore {
  const users: Collection<UserDoc> = db.collection<UserDoc>('users');
  const sessions = db.collection<{ _id: string; userId: string }>('sessions');
  const refreshTokens = db.collection('refreshTokens');

  /** Ends every session of the user, each with its refresh tokens and mailbox (sessions first). */
  const endAllSessions = async (userId: string) => {
    const sessionIds = (await sessions.find({ userId }, { projection: { _id: 1 } }).toArray()).map((s) => s._id);
    await sessions.deleteMany({ userId });
    await refreshTokens.deleteMany({ sessionId: { $in: sessionIds } });
    await deleteMailboxes(db, sessionIds);
  };

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
    async setPgpKey(id, key, events) {
      // pgp.changed lands with the key: a connection never reads a key it was not told about, or vice
      // versa. txnSerial makes even an unchanged key a write, so an accept racing this (connections.ts)
      // runs before it (and its new peer is told) or after it (and reads the new key).
      return mailbox.withEvents(
        async (session) => (await users.updateOne({ _id: id }, { $set: { pgp: key }, $inc: { txnSerial: 1 } }, { session })).matchedCount > 0,
        (ok) => (ok && events ? events() : null),
      );
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
      // No multi-document transaction (it would conflict with every send to the mailboxes it cleans).
      // The user goes first: a sign-in or refresh racing this checks the user after writing its session
      // (sessions.create), so either it sees the user gone and removes its own session, or its session
      // was written before this and goes with the sessions below. Ending the sessions first left a
      // window where a sign-in inserted a session after them and still found the user.
      // A transaction that wrote this user's document (a connection request or accept, a key change:
      // serialiseOn) either committed before this delete, and what it wrote is cleaned up below, or
      // conflicts with it and runs again without the user (and answers 'gone').
      const deleted = (await users.deleteOne({ _id: id })).deletedCount > 0;
      await endAllSessions(id);
      await db.collection<{ _id: string }>('resetCodes').deleteOne({ _id: id });
      await db.collection<{ _id: string }>('twoFactor').deleteOne({ _id: id });
      await db.collection<{ _id: string }>('keyBackups').deleteOne({ _id: id });
      await db.collection('securityEvents').deleteMany({ userId: id });
      await db.collection('connections').deleteMany({ $or: [{ lowId: id }, { highId: id }] });
      // After the connections, so an accept or removal racing this either conflicts with the deletion
      // of its connection or committed first: its events go here with the user's signals.
      await deleteEntriesFrom(db, id);
      await db.collection('sentSignals').deleteMany({ senderId: id });
      await db.collection<{ _id: string }>('presence').deleteOne({ _id: id });
      return deleted;
    },
    async setDisabled(id, disabledAt) {
      // The flag first, then the sessions: a login racing this checks the flag after inserting its
      // session (mongo/sessions.ts), so whichever comes second removes that session.
      if ((await users.updateOne({ _id: id }, { $set: { disabledAt } })).matchedCount === 0) return false;
      if (disabledAt) await endAllSessions(id);
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
