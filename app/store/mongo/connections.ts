import type { ClientSession, Collection, Db, Filter } from 'mongodb';
import type { ConnectionRecord, ConnectionRequestInput, ConnectionRequestResult, ConnectionStore, ConnectionView, PgpKeyRecord } from '../types.js';
import type { MongoMailboxWrites } from './mailboxes.js';
import { serialiseOn } from './users.js';

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

/** Accepted, or pending and not yet expired: an expired request is absent whether or not it was purged. */
const live = (now: Date): Filter<ConnectionDoc> => ({ $or: [{ state: 'accepted' }, { expiresAt: { $gt: now } }] });

export async function mongoConnectionsIndexes(db: Db): Promise<void> {
  const connections = db.collection<ConnectionDoc>('connections');
  // The unique pair is what makes "one record per pair" hold under concurrent inserts.
  await connections.createIndex({ lowId: 1, highId: 1 }, { unique: true }, undefined);
  await connections.createIndex({ highId: 1 });
  await connections.createIndex({ requesterId: 1, expiresAt: 1 }, { partialFilterExpression: { state: 'pending' } }, undefined);
  // MongoDB drops lapsed requests itself (within about a minute); reads still compare expiresAt with now.
  // Partial, so an accepted connection can never be swept by it.
  await connections.createIndex({ expiresAt: 1 }, { name: 'pending_ttl', expireAfterSeconds: 0, partialFilterExpression: { state: 'pending' } }, undefined);
}

export function mongoConnections(db: Db, mailbox: MongoMailboxWrites): ConnectionStore {
  const connections: Collection<ConnectionDoc> = db.collection<ConnectionDoc>('connections');
  const users = db.collection<{ _id: string; username: string; pgp?: PgpKeyRecord | null }>('users');

  // Read-decide-write inside the transaction `session` (request() below): a concurrent request from
  // the other side inserting the same pair, or changing it, makes one of the two run again on what
  // the other committed.
  const request = async (i: ConnectionRequestInput, session: ClientSession): Promise<ConnectionRequestResult> => {
    const [lowId, highId] = pair(i.fromId, i.toId);
    const existing = await connections.findOne({ lowId, highId }, { session });
    if (existing) {
      if (existing.state === 'accepted') return { outcome: 'already_connected', record: toRecord(existing) };
      if (existing.expiresAt! > i.now) {
        if (existing.requesterId === i.fromId) return { outcome: 'pending', record: toRecord(existing) };
        const record = await acceptById(existing, i.now, session);
        return record ? { outcome: 'accepted', record } : { outcome: 'gone' };
      }
      await connections.deleteOne({ _id: existing._id }, { session }); // expired: a fresh request takes its place
    }
    // Never the request being made (`i.id`): the limit and `freesAt` (the Retry-After) are about the
    // requests already out, whatever an earlier attempt of this retried transaction wrote.
    const mine: Filter<ConnectionDoc> = { requesterId: i.fromId, state: 'pending', expiresAt: { $gt: i.now }, _id: { $ne: i.id } };
    if ((await connections.countDocuments(mine, { session })) >= i.maxPending) {
      const oldest = await connections.findOne(mine, { session, sort: { expiresAt: 1 } });
      return { outcome: 'limit', freesAt: oldest!.expiresAt! };
    }
    // Both users written, not only read: a concurrent request from the same user (inserting another
    // pair, so nothing else conflicts) makes one of the two run again and count the other's, so
    // maxPending holds; an account deletion racing this conflicts instead of leaving a request behind.
    if ((await serialiseOn(db, [i.fromId, i.toId], session)) < 2) return { outcome: 'gone' };
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
    // A concurrent insert of the same pair makes this a write conflict or a duplicate key: both retried.
    await connections.insertOne(doc, { session });
    return { outcome: 'requested', record: toRecord(doc) };
  };

  /**
   * Accepts a live pending record read in this transaction; null when one of the two accounts is being
   * deleted (its connections go next). Both users are written, so a key change racing the accept
   * (users.setPgpKey, which tells the user's connections) comes wholly before or after it.
   */
  const acceptById = async (existing: ConnectionDoc, now: Date, session: ClientSession): Promise<ConnectionRecord | null> => {
    if ((await serialiseOn(db, [existing.lowId, existing.highId], session)) < 2) return null;
    const accepted = { ...existing, state: 'accepted' as const, acceptedAt: now, expiresAt: null };
    // By id: any change to it since this transaction read it is a write conflict, not a silent miss.
    await connections.updateOne({ _id: existing._id }, { $set: { state: 'accepted', acceptedAt: now, expiresAt: null } }, { session });
    return toRecord(accepted);
  };

  /** Adds the peer's username; a pair whose peer account is already gone is left out. */
  const views = async (userId: string, docs: ConnectionDoc[]): Promise<ConnectionView[]> => {
    const peerIds = docs.map((d) => (d.lowId === userId ? d.highId : d.lowId));
    const peers = new Map((await users.find({ _id: { $in: peerIds } }, { projection: { username: 1, pgp: 1 } }).toArray()).map((u) => [u._id, u]));
    return docs.flatMap((d, n) => {
      const peerId = peerIds[n]!;
      const peer = peers.get(peerId);
      return peer === undefined ? [] : [{ ...toRecord(d), peerId, peerUsername: peer.username, peerPgp: peer.pgp ?? null }];
    });
  };

  const mineFilter = (userId: string): Filter<ConnectionDoc> => ({ $or: [{ lowId: userId }, { highId: userId }] });

  return {
    // Each transition and the events it causes commit together (mailbox.withEvents): an event can
    // neither be lost nor be read before the change it reports.
    async request(input, events) {
      return mailbox.withEvents(
        (session) => request(input, session),
        (r) => (events && (r.outcome === 'requested' || r.outcome === 'accepted') ? events(r) : null),
      );
    },
    async accept(requesterId, recipientId, now, events) {
      const [lowId, highId] = pair(requesterId, recipientId);
      return mailbox.withEvents(
        async (session) => {
          const live = await connections.findOne({ lowId, highId, state: 'pending', requesterId, expiresAt: { $gt: now } }, { session });
          return live ? acceptById(live, now, session) : null;
        },
        (record) => (record && events ? events(record) : null),
      );
    },
    async reject(requesterId, recipientId, now, events) {
      const [lowId, highId] = pair(requesterId, recipientId);
      return mailbox.withEvents(
        async (session) => (await connections.deleteOne({ lowId, highId, state: 'pending', requesterId, expiresAt: { $gt: now } }, { session })).deletedCount > 0,
        (rejected) => (rejected && events ? events() : null),
      );
    },
    async remove(userId, otherId, now, events) {
      const [lowId, highId] = pair(userId, otherId);
      return mailbox.withEvents(
        async (session): Promise<'connection' | 'request' | null> => {
          const doc = await connections.findOneAndDelete(
            { lowId, highId, $or: [{ state: 'accepted' }, { state: 'pending', requesterId: userId, expiresAt: { $gt: now } }] },
            { session },
          );
          if (!doc) return null;
          return doc.state === 'accepted' ? 'connection' : 'request';
        },
        (removed) => (removed && events ? events(removed) : null),
      );
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
