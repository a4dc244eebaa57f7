// The wire shapes of API v1.1 that the SDK reads and writes (shared/API.md). Fields the server adds
// later are kept as they come; the SDK never removes what it does not know.

/** The account's published OpenPGP key, as the server presents it. */
export interface PgpKeyInfo {
  /** 40 (v4) or 64 (v6) upper-case hex digits. */
  fingerprint: string;
  algorithm: string;
  createdAt: string;
  expiresAt: string | null;
  publicKey: string;
}

/** The signed-in user (`user` in the token answers and `GET /users/me`). */
export interface User {
  id: string;
  username: string;
  email: string;
  birthday: string | null;
  createdAt: string;
  pgp: PgpKeyInfo | null;
  twoFactor: boolean;
}

/** What a device calls itself at sign-in; shown only to the account's owner. */
export interface DeviceLabel {
  name?: string;
  platform?: string;
}

export interface RegisterInput {
  username: string;
  email: string;
  password: string;
  birthday?: string;
  device?: DeviceLabel;
}

export interface LoginInput {
  /** The username, `@username` or the e-mail address. */
  username: string;
  password: string;
  totp?: string;
  device?: DeviceLabel;
}

/** The answer of register, login and refresh. */
export interface TokenGrant {
  user: User;
  accessToken: string;
  refreshToken: string;
  tokenType: 'Bearer';
  expiresIn: number;
  deviceId: string;
}

export interface Presence {
  online: boolean;
  lastSeen: string | null;
}

export interface ConnectionRequest {
  id: string;
  from: string;
  to: string;
  message: string | null;
  createdAt: string;
  expiresAt: string;
}

export interface Connection {
  username: string;
  since: string;
  presence: Presence;
  pgp: PgpKeyInfo | null;
}

/** A public profile (`GET /users/{username}`). */
export interface Profile {
  username: string;
  createdAt: string;
  pgp: PgpKeyInfo | null;
  presence?: Presence;
}

/** The signal types a client may send; server events have dotted types instead. */
export type SignalType = 'offer' | 'answer' | 'ice' | 'bye' | 'custom';

/** A signal or server event as `GET /signaling/poll` hands it out. */
export interface WireSignal {
  id: string;
  from: string;
  /** v1.1; null for server events (and absent on servers before v1.1). */
  fromDevice?: string | null;
  type: string;
  payload: string;
  sessionId: string | null;
  createdAt: string;
  expiresAt?: string;
}

export interface PollAnswer {
  signals: WireSignal[];
  cursor: string;
}

/** The answer of `POST /signaling/send`. */
export interface SendResult {
  id: string;
  expiresAt: string;
  /** v1.1: how many devices of the recipient the signal was delivered to. */
  devices: number;
  /**
   * v1.2: how many of those can get it soon (seen within PRESENCE_WINDOW, holding a poll, or with a push
   * subscription); absent from older servers.
   */
  reachable?: number;
}
