import type { Config } from '../config/parse.js';
import type { Caller } from '../core/caller.js';
import { conflict, notFound, rateLimited, unauthorized, validationFailed } from '../core/errors.js';
import type { Clock } from '../lib/clock.js';
import { newId } from '../lib/ids.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import { connectionRequestedPayload, pairEvents, requestPairKey, serverEvent, type EventTime } from '../core/serverEvents.js';
import type { ConnectionRecord, PgpKeyRecord, ServerEvent, Store, UserRecord } from '../store/types.js';
import type { Presence } from '../presence/presence.schema.js';
import type { PresenceService } from '../presence/presence.service.js';

export interface ConnectionDeps {
  store: Store;
  clock: Clock;
  presence: PresenceService;
  /** Counts each request against RATE_CONNECTION_REQUEST. */
  limiter: RateLimiter;
  /** `signalTtl` and `eventsMax`: how long the server events a change causes stay in the mailboxes, and how many a device keeps. */
  config: Pick<Config, 'connectionRequestTtl' | 'connectionPendingMax' | 'connectionRequestCooldown' | 'connectionRejectCooldown' | 'signalTtl' | 'eventsMax'>;
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

/**
 * The rate-limit counter that remembers "`requesterId` may not ask `recipientId` again yet": after
 * `recipientId` turned the request down (CONNECTION_REJECT_COOLDOWN) or `requesterId` cancelled it
 * (CONNECTION_REQUEST_COOLDOWN). Kept in the shared RateLimitStore (every instance sees it, it expires by
 * itself, no schema change); directed, so the other user may still ask. One counter for both: a pair
 * can be in only one of the two cool-downs, since either needs a request that the other one refuses.
 */
const cooldownKey = (requesterId: string, recipientId: string) => `connectionCooldown:${requesterId}:${recipientId}`;

/** The request/accept graph: who may signal whom. */
export class ConnectionService {
  constructor(private readonly d: ConnectionDeps) {}

  /**
   * Asks `username` to connect. When they had already asked the caller, this accepts their
   * request instead (crossing requests connect at once) and answers the connection.
   */
  async request(auth: Caller, username: string, message: string | null): Promise<RequestOutcome> {
    // Counted first, whatever the answer: every request may write events into a stranger's devices.
    await this.d.limiter.consume('connectionRequestsPerUser', auth.userId);
    const [me, other] = await this.pair(auth, username);
    if (other.id === me.id) throw validationFailed([{ field: 'username', message: 'must not be yourself' }]);
    const now = this.d.clock.now();
    await this.checkCooldown(me, other, now);
    const time = this.eventTime(now);
    const result = await this.d.store.connections.request(
      {
        id: newId(),
        fromId: me.id,
        toId: other.id,
        message,
        now: new Date(now),
        expiresAt: new Date(now + this.d.config.connectionRequestTtl * 1000),
        maxPending: this.d.config.connectionPendingMax,
      },
      (change): ServerEvent[] => {
        // Crossing requests: the caller has just accepted the other's request.
        if (change.outcome === 'accepted') return pairEvents('connection.accepted', me, auth.sessionId, other, time);
        const request = connectionRequestedPayload(change.record, me.username, other.username);
        const pair = requestPairKey(me.id, other.id);
        return [
          serverEvent('connection.requested', me, request, { userId: other.id }, time, pair),
          serverEvent('connection.requested', me, request, { userId: me.id, exceptDevice: auth.sessionId }, time, pair),
        ];
      },
    );
    switch (result.outcome) {
      case 'requested':
        return { kind: 'requested', request: { record: result.record, from: me.username, to: other.username } };
      case 'accepted':
        await this.forgetCooldowns(me.id, other.id);
        return { kind: 'connected', connection: await this.connection(result.record, other) };
      case 'already_connected':
        throw alreadyConnected();
      case 'pending':
        throw conflict('request_pending', `You already asked @${other.username}; the request is pending.`);
      case 'limit':
        throw rateLimited(
          'CONNECTION_PENDING_MAX',
          (result.freesAt.getTime() - now) / 1000,
          `You have ${this.d.config.connectionPendingMax} unanswered requests; cancel some or wait for answers.`,
        );
      case 'gone':
        throw notFound('No such user.');
    }
  }

  /** The recipient accepts the live request `username` sent them. */
  async accept(auth: Caller, username: string): Promise<ConnectionEntry> {
    const [me, other] = await this.pair(auth, username);
    const now = this.d.clock.now();
    const time = this.eventTime(now);
    const record = await this.d.store.connections.accept(other.id, me.id, new Date(now), () => pairEvents('connection.accepted', me, auth.sessionId, other, time));
    if (!record) throw await this.noIncomingRequest(me, other);
    await this.forgetCooldowns(me.id, other.id);
    return this.connection(record, other);
  }

  /**
   * The recipient turns down the live request `username` sent them. The sender may ask again only
   * after CONNECTION_REJECT_COOLDOWN (0: at once); the recipient may ask the sender at any time.
   */
  async reject(auth: Caller, username: string): Promise<void> {
    const [me, other] = await this.pair(auth, username);
    const now = this.d.clock.now();
    const time = this.eventTime(now);
    // The requester is told too: their outgoing list shows the request gone anyway, so this hides nothing.
    const rejected = await this.d.store.connections.reject(other.id, me.id, new Date(now), () =>
      pairEvents('connection.removed', me, auth.sessionId, other, time, requestPairKey(me.id, other.id)),
    );
    if (!rejected) {
      throw await this.noIncomingRequest(me, other);
    }
    await this.startCooldown(other.id, me.id, this.d.config.connectionRejectCooldown, now);
  }

  /** `requesterId` may not ask `recipientId` again for `seconds` (0: no cool-down). */
  private async startCooldown(requesterId: string, recipientId: string, seconds: number, now: number): Promise<void> {
    if (seconds > 0) await this.d.store.rateLimits.hit(cooldownKey(requesterId, recipientId), new Date(now), seconds * 1000);
  }

  private cooldownsOff(): boolean {
    return this.d.config.connectionRequestCooldown === 0 && this.d.config.connectionRejectCooldown === 0;
  }

  /**
   * 429 while `other` turned `me` down less than CONNECTION_REJECT_COOLDOWN ago, so a rejected
   * requester cannot re-ask at once, forever; or while `me` cancelled a request to `other` less than
   * CONNECTION_REQUEST_COOLDOWN ago, so a request-cancel loop cannot flood `other`'s devices. Not when
   * `other` has since asked `me`: then this request accepts theirs. The requester learns nothing new
   * from the 429: a rejected request already vanished from their outgoing list before it could expire.
   */
  private async checkCooldown(me: UserRecord, other: UserRecord, now: number): Promise<void> {
    if (this.cooldownsOff()) return;
    const remembered = await this.d.store.rateLimits.peek(cooldownKey(me.id, other.id), new Date(now));
    if (!remembered || remembered.count <= 0) return;
    const link = await this.d.store.connections.find(me.id, other.id, new Date(now));
    if (link) return; // their request to me (accepted below), or a state the store answers itself
    // One key holds both cool-downs, so the answer names both.
    throw rateLimited(
      'CONNECTION_REQUEST_COOLDOWN|CONNECTION_REJECT_COOLDOWN',
      (remembered.resetAt.getTime() - now) / 1000,
      `Your last request to @${other.username} was cancelled or turned down; you can ask again later.`,
    );
  }

  /** Once two users are connected, neither carries an old rejection or cancel into a later request. */
  private async forgetCooldowns(a: string, b: string): Promise<void> {
    if (this.cooldownsOff()) return;
    await Promise.all([this.d.store.rateLimits.reset(cooldownKey(a, b)), this.d.store.rateLimits.reset(cooldownKey(b, a))]);
  }

  /**
   * Removes the connection with `username` for both sides, or cancels the caller's own request to them;
   * after a cancel the caller may ask them again only after CONNECTION_REQUEST_COOLDOWN (0: at once).
   */
  async remove(auth: Caller, username: string): Promise<void> {
    const [me, other] = await this.pair(auth, username);
    const now = this.d.clock.now();
    const time = this.eventTime(now);
    const removed = await this.d.store.connections.remove(me.id, other.id, new Date(now), (what) =>
      pairEvents('connection.removed', me, auth.sessionId, other, time, what === 'request' ? requestPairKey(me.id, other.id) : undefined),
    );
    if (!removed) throw notFound(`You have no connection with @${other.username} and no request to them.`);
    if (removed === 'request') await this.startCooldown(me.id, other.id, this.d.config.connectionRequestCooldown, now);
  }

  /** The caller's live requests, split by direction. */
  async pending(auth: Caller): Promise<{ incoming: RequestEntry[]; outgoing: RequestEntry[] }> {
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
  async list(auth: Caller): Promise<ConnectionEntry[]> {
    const views = await this.d.store.connections.listConnections(auth.userId);
    const presence = await this.d.presence.of(views.map((v) => v.peerId));
    return views.map((v) => ({ record: v, peerUsername: v.peerUsername, peerPgp: v.peerPgp, presence: presence.get(v.peerId)! }));
  }

  /** The events of a change made at `now` live as long as a signal would (SIGNAL_TTL). */
  private eventTime(now: number): EventTime {
    return { now: new Date(now), ttlSeconds: this.d.config.signalTtl, eventsMax: this.d.config.eventsMax };
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

  private async me(auth: Caller): Promise<UserRecord> {
    const me = await this.d.store.users.findById(auth.userId);
    if (!me) throw unauthorized('The session has ended; sign in again.');
    return me;
  }

  /** The caller and the named user; 404 not_found when nobody has that name. */
  private async pair(auth: Caller, username: string): Promise<[UserRecord, UserRecord]> {
    const [me, other] = await Promise.all([this.me(auth), this.d.store.users.findByUsername(username)]);
    if (!other) throw notFound('No such user.');
    return [me, other];
  }
}
