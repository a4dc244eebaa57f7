import { MongoServerError, type Collection, type Db, type Filter } from 'mongodb';
import type { ConnectionRecord, ConnectionRequestInput, ConnectionRequestResult, ConnectionStore, ConnectionView, PgpKeyRecord } from '../types.js';

export interface ConnectionDoc {
  _id: string;
  lowId: string;
  highId: string;
  state: 'pending' | 'accepted';
  requesterId: string;
  message: string | null;
  createdAt: Date;
  expiresAt: Date | null;
  acceptedAt: Date | null;
}

const toRecord = ({ _id, ...rest }: ConnectionDoc): ConnectionRecord => ({ id: _id, ...rest });

/** The pair's key: the two ids in ascending order, whoever is asking. */
const pair = (a: string, b: string): [string, string] => (a < b ? [a, b] : [b, a]);

const isDuplicate = (err: unknown) => err instanceof MongoServerError && err.code === 11000;

/** Accepted, or pending and not yet expired: an expired request is absent whether or not it was purged. */
const live = (now: Date): Filter<ConnectionDoc> => ({ $or: [{ state: 'accepted' }, { expiresAt: { $gt: now } }] });

// A lost race (the other side inserted or changed the pair between our read and write) is retried
// from a fresh read; each retry means someone else made progress, so a few always suffice.
const MAX_ATTEMPTS = 5;

export async function mongoConnectionsIndexes(db: Db): Promise<void> {
  const connections = db.collection<ConnectionDoc>('connections');
  // The unique pair is what makes "one record per pair" hold under concurrent inserts.
  await connections.createIndex({ lowId: 1, highId: 1 }, { unique: true });
  await connections.createIndex({ highId: 1 });
  await connections.createIndex({ requesterId: 1, expiresAt: 1 }, { partialFilterExpression: { state: 'pending' } });
  // MongoDB drops lapsed requests itself (within about a minute); reads still compare expiresAt with now.
  // Partial, so an accepted connection can never be swept by it.
  await connections.createIndex(
    { expiresAt: 1 },
    { name: 'pending_ttl', expireAfterSeconds: 0, partialFilterExpression: { state: 'pending' } },
  );
}

export function mongoConnections(db: Db): ConnectionStore {
  const connections: Collection<ConnectionDoc> = db.collection<ConnectionDoc>('connections');
  const users = db.collection<{ _id: string; username: string; pgp?: PgpKeyRecord | null }>('users');

  const attempt = async (i: ConnectionRequestInput): Promise<ConnectionRequestResult | 'retry'> => {
    const [lowId, highId] = pair(i.fromId, i.toId);
    const existing = await connections.findOne({ lowId, highId });
    if (existing) {
      if (existing.state === 'accepted') return { outcome: 'already_connected', record: toRecord(existing) };
      if (existing.expiresAt! > i.now) {
        if (existing.requesterId === i.fromId) return { outcome: 'pending', record: toRecord(existing) };
        // Conditional on still being that live pending request: a concurrent cancel or accept wins.
        const accepted = await connections.findOneAndUpdate(
          { _id: existing._id, state: 'pending', expiresAt: { $gt: i.now } },
          { $set: { state: 'accepted', acceptedAt: i.now, expiresAt: null } },
          { returnDocument: 'after' },
        );
        return accepted ? { outcome: 'accepted', record: toRecord(accepted) } : 'retry';
      }
      await connections.deleteOne({ _id: existing._id, state: 'pending', expiresAt: { $lte: i.now } });
    }
    const doc: ConnectionDoc = {
      _id: i.id,
      lowId,
      highId,
      state: 'pending',
      requesterId: i.fromId,
      message: i.message,
      createdAt: i.now,
      expiresAt: i.expiresAt,
      acceptedAt: null,
    };
    try {
      await connections.insertOne(doc);
    } catch (err) {
      if (isDuplicate(err)) return 'retry';
      throw err;
    }
    // Checked after the insert, so neither a concurrent account deletion (users.delete removes the
    // user, then their connections) nor concurrent requests can slip past; a loser undoes its own insert.
    const withdraw = async () => (await connections.deleteOne({ _id: doc._id, state: 'pending' })).deletedCount > 0;
    if ((await users.countDocuments({ _id: { $in: [i.fromId, i.toId] } })) < 2) {
      await withdraw();
      return { outcome: 'gone' };
    }
    const mine: Filter<ConnectionDoc> = { requesterId: i.fromId, state: 'pending', expiresAt: { $gt: i.now } };
    if ((await connections.countDocuments(mine)) > i.maxPending) {
      const oldest = await connections.findOne(mine, { sort: { expiresAt: 1 } });
      // Not withdrawn means the recipient accepted it in the meantime: it no longer counts as pending.
      if (await withdraw()) return { outcome: 'limit', freesAt: oldest?.expiresAt ?? i.expiresAt };
    }
    return { outcome: 'requested', record: toRecord(doc) };
  };

  /** Adds the peer's username; a pair whose peer account is already gone is left out. */
  const views = async (userId: string, docs: ConnectionDoc[]): Promise<ConnectionView[]> => {
    const peerIds = docs.map((d) => (d.lowId === userId ? d.highId : d.lowId));
    const peers = new Map(
      (await users.find({ _id: { $in: peerIds } }, { projection: { username: 1, pgp: 1 } }).toArray()).map((u) => [u._id, u]),
    );
    return docs.flatMap((d, n) => {
      const peerId = peerIds[n]!;
      const peer = peers.get(peerId);
      return peer === undefined ? [] : [{ ...toRecord(d), peerId, peerUsername: peer.username, peerPgp: peer.pgp ?? null }];
    });
  };

  const mineFilter = (userId: string): Filter<ConnectionDoc> => ({ $or: [{ lowId: userId }, { highId: userId }] });

  return {
    async request(input) {
      for (let n = 0; n < MAX_ATTEMPTS; n++) {
        const result = await attempt(input);
        if (result !== 'retry') return result;
      }
      throw new Error('connection request kept losing races; giving up');
    },
    async accept(requesterId, recipientId, now) {
      const [lowId, highId] = pair(requesterId, recipientId);
      const doc = await connections.findOneAndUpdate(
        { lowId, highId, state: 'pending', requesterId, expiresAt: { $gt: now } },
        { $set: { state: 'accepted', acceptedAt: now, expiresAt: null } },
        { returnDocument: 'after' },
      );
      return doc ? toRecord(doc) : null;
    },
    async reject(requesterId, recipientId, now) {
      const [lowId, highId] = pair(requesterId, recipientId);
      return (await connections.deleteOne({ lowId, highId, state: 'pending', requesterId, expiresAt: { $gt: now } })).deletedCount > 0;
    },
    async remove(userId, otherId, now) {
      const [lowId, highId] = pair(userId, otherId);
      const doc = await connections.findOneAndDelete({
        lowId,
        highId,
        $or: [{ state: 'accepted' }, { state: 'pending', requesterId: userId, expiresAt: { $gt: now } }],
      });
      if (!doc) return null;
      return doc.state === 'accepted' ? 'connection' : 'request';
    },
    async find(a, b, now) {
      const [lowId, highId] = pair(a, b);
      const doc = await connections.findOne({ lowId, highId, ...live(now) });
      return doc ? toRecord(doc) : null;
    },
    async listConnections(userId) {
      const found = await views(userId, await connections.find({ ...mineFilter(userId), state: 'accepted' }).toArray());
      return found.sort((x, y) => (x.peerUsername < y.peerUsername ? -1 : x.peerUsername > y.peerUsername ? 1 : 0));
    },
    async listPending(userId, now) {
      const docs = await connections
        .find({ ...mineFilter(userId), state: 'pending', expiresAt: { $gt: now } })
        .sort({ createdAt: -1, _id: 1 })
        .toArray();
      return views(userId, docs);
    },
    async purgeExpired(now) {
      return (await connections.deleteMany({ state: 'pending', expiresAt: { $lte: now } })).deletedCount;
    },
    async count(now) {
      const [accepted, pending] = await Promise.all([
        connections.countDocuments({ state: 'accepted' }),
        connections.countDocuments({ state: 'pending', expiresAt: { $gt: now } }),
      ]);
      return { accepted, pending };
    },
  };
}
