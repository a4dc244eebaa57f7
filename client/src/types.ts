import type { components, operations } from './wire/openapi.js';

// The wire shapes the SDK reads and writes, named from the types generated out of the server's OpenAPI
// document (./wire/openapi.ts, `npm run wire-types`): nothing here is copied by hand, so when the server
// renames, removes or retypes a field the SDK uses, the SDK stops compiling. What the SDK itself sends is
// hand-written where it is narrower than the server accepts, and checked to fit the server's body below.

/** The JSON body of operation `O`'s answer with status `S`. */
type Answer<O extends keyof operations, S extends keyof operations[O]['responses']> = operations[O]['responses'][S] extends {
  content: { 'application/json': infer B };
}
  ? B
  : never;

/** The JSON body operation `O` takes. */
type RequestBody<O extends keyof operations> = operations[O] extends { requestBody: { content: { 'application/json': infer B } } } ? B : never;

/** Every error code the server answers with (its error registry, `components.schemas.ErrorCode`). */
export type ServerErrorCode = components['schemas']['ErrorCode'];

/** The signed-in user (`user` in the token answers and `GET /users/me`). */
export type User = Answer<'getUsersMe', 200>['user'];

/** The account's published OpenPGP key, as the server presents it. */
export type PgpKeyInfo = NonNullable<User['pgp']>;

/** The answer of register, login and refresh. */
export type TokenGrant = Answer<'postAuthLogin', 200>;

/** A public profile (`GET /users/{username}`). */
export type Profile = Answer<'getUsersUsername', 200>;

export type Presence = NonNullable<Profile['presence']>;

export type Connection = Answer<'getConnections', 200>['connections'][number];

export type ConnectionRequest = Answer<'getConnectionsPending', 200>['incoming'][number];

/** The answer of `GET /signaling/poll`. */
export type PollAnswer = Answer<'getSignalingPoll', 200>;

/** A signal or server event as `GET /signaling/poll` hands it out. */
export type WireSignal = PollAnswer['signals'][number];

/** Every `type` a mailbox entry can have: the signal types and the server's event types. */
export type EntryType = WireSignal['type'];

/** The server's event types (dotted: `connection.requested`, `pgp.changed`, ...), which no client can send. */
export type ServerEventType = Extract<EntryType, `${string}.${string}`>;

/** The signal types a client may send. */
export type SignalType = Exclude<EntryType, ServerEventType>;

/** The answer of `POST /signaling/send`. */
export type SendResult = Answer<'postSignalingSend', 202>;

/** What a device calls itself at sign-in; shown only to the account's owner. */
export type DeviceLabel = NonNullable<RequestBody<'postAuthLogin'>['device']>;

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

/** `A`, when every `A` is a valid `B` (else a compile error here): what the SDK sends fits the server's schema. */
type Fits<A extends B, B> = A;
// Not exported: they exist to fail the build when the server's request bodies no longer take what the SDK sends.
type _RegisterFits = Fits<RegisterInput, RequestBody<'postAuthRegister'>>;
type _LoginFits = Fits<LoginInput, RequestBody<'postAuthLogin'>>;
type _SendFits = Fits<{ to: string; type: SignalType; payload: string; toDevice?: string; sessionId?: string; idempotencyKey: string }, RequestBody<'postSignalingSend'>>;
