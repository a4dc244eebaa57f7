import type { Config } from '../config.js';
import type { AuthState } from '../http/context.js';
import { conflict, notFound, rateLimited, unauthorized, validationFailed } from '../http/errors.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import type { ConnectionRecord, PgpKeyRecord, Store, UserRecord } from '../store/types.js';
import type { Presence, PresenceService } from './presence.js';

export interface ConnectionDeps {
  store: Store;
  clock: Clock;
  presence: PresenceService;
  config: Pick<Config, 'connectionRequestTtl' | 'connectionPendingMax'>;
}

/** A live pending request with both usernames resolved. */
export interface RequestEntry {
  record: ConnectionRecord;
  from: string;
  to: string;
}

/** An accepted connection as one member sees it: the other member's name and presence. */
export interface ConnectionEntry {
  record: ConnectionRecord;
  peerUsername: string;
  peerPgp: PgpKeyRecord | null;
  presence: Presence;
}

export type RequestOutcome = { kind: 'requested'; request: RequestEntry } | { kind: 'connected'; connection: ConnectionEntry };

const alreadyConnected = () => conflict('already_connected', 'You are already connected.');

/** The request/accept graph: who may signal whom. */
export class ConnectionService {
  constructor(private readonly d: ConnectionDeps) {}

  /**
   * Asks `username` to connect. When they had already asked the caller, this accepts their
   * request instead (crossing requests connect at once) and answers the connection.
   */
  async request(auth: AuthState, username: string, message: string | null): Promise<RequestOutcome> {
    const [me, other] = await this.pair(auth, username);
    if (other.id === me.id) throw validationFailed([{ field: 'username', message: 'must not be yourself' }]);
    const now = this.d.clock.now();
    const result = await this.d.store.connections.request({
      id: newId(),
      fromId: me.id,
      toId: other.id,
      message,
      now: new Date(now),
      expiresAt: new Date(now + this.d.config.connectionRequestTtl * 1000),
      maxPending: this.d.config.connectionPendingMax,
    });
    switch (result.outcome) {
      case 'requested':
        return { kind: 'requested', request: { record: result.record, from: me.username, to: other.username } };
      case 'accepted':
        return { kind: 'connected', connection: await this.connection(result.record, other) };
      case 'already_connected':
        throw alreadyConnected();
      case 'pending':
        throw conflict('request_pending', `You already asked @${other.username}; the request is pending.`);
      case 'limit':
        throw rateLimited(
          (result.freesAt.getTime() - now) / 1000,
          `You have ${this.d.config.connectionPendingMax} unanswered requests; cancel some or wait for answers.`,
        );
      case 'gone':
        throw notFound('No such user.');
    }
  }

  /** The recipient accepts the live request `username` sent them. */
  async accept(auth: AuthState, username: string): Promise<ConnectionEntry> {
    const [me, other] = await this.pair(auth, username);
    const record = await this.d.store.connections.accept(other.id, me.id, new Date(this.d.clock.now()));
    if (!record) throw await this.noIncomingRequest(me, other);
    return this.connection(record, other);
  }

  /** The recipient turns down the live request `username` sent them; the sender may ask again. */
  async reject(auth: AuthState, username: string): Promise<void> {
    const [me, other] = await this.pair(auth, username);
    if (!(await this.d.store.connections.reject(other.id, me.id, new Date(this.d.clock.now())))) {
      throw await this.noIncomingRequest(me, other);
    }
  }

  /** Removes the connection with `username` for both sides, or cancels the caller's own request to them. */
  async remove(auth: AuthState, username: string): Promise<void> {
    const [me, other] = await this.pair(auth, username);
    const removed = await this.d.store.connections.remove(me.id, other.id, new Date(this.d.clock.now()));
    if (!removed) throw notFound(`You have no connection with @${other.username} and no request to them.`);
  }

  /** The caller's live requests, split by direction. */
  async pending(auth: AuthState): Promise<{ incoming: RequestEntry[]; outgoing: RequestEntry[] }> {
    const me = await this.me(auth);
    const views = await this.d.store.connections.listPending(me.id, new Date(this.d.clock.now()));
    const incoming: RequestEntry[] = [];
    const outgoing: RequestEntry[] = [];
    for (const v of views) {
      if (v.requesterId === me.id) outgoing.push({ record: v, from: me.username, to: v.peerUsername });
      else incoming.push({ record: v, from: v.peerUsername, to: me.username });
    }
    return { incoming, outgoing };
  }

  /** The caller's accepted connections with each peer's presence. */
  async list(auth: AuthState): Promise<ConnectionEntry[]> {
    const views = await this.d.store.connections.listConnections(auth.userId);
    const presence = await this.d.presence.of(views.map((v) => v.peerId));
    return views.map((v) => ({ record: v, peerUsername: v.peerUsername, peerPgp: v.peerPgp, presence: presence.get(v.peerId)! }));
  }

  private async connection(record: ConnectionRecord, peer: UserRecord): Promise<ConnectionEntry> {
    const presence = await this.d.presence.of([peer.id]);
    return { record, peerUsername: peer.username, peerPgp: peer.pgp, presence: presence.get(peer.id)! };
  }

  /**
   * Nothing to answer. Only the recipient may respond: to the sender their own request is not an
   * incoming one, so they get the same 404 as for no request at all. Already connected gets 409,
   * which tells a client that double-tapped "accept" that the first tap worked.
   */
  private async noIncomingRequest(me: UserRecord, other: UserRecord) {
    const link = await this.d.store.connections.find(me.id, other.id, new Date(this.d.clock.now()));
    if (link?.state === 'accepted') return alreadyConnected();
    return notFound(`There is no pending request from @${other.username}.`);
  }

  private async me(auth: AuthState): Promise<UserRecord> {
    const me = await this.d.store.users.findById(auth.userId);
    if (!me) throw unauthorized('The session has ended; sign in again.');
    return me;
  }

  /** The caller and the named user; 404 not_found when nobody has that name. */
  private async pair(auth: AuthState, username: string): Promise<[UserRecord, UserRecord]> {
    const [me, other] = await Promise.all([this.me(auth), this.d.store.users.findByUsername(username)]);
    if (!other) throw notFound('No such user.');
    return [me, other];
  }
}
