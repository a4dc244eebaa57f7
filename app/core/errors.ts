/**
 * Every error code the server can answer, with its HTTP status and what it means to a client: the one
 * table the factories below, the OpenAPI document (ops/openapi.ts) and the reference (docs/api.md) are
 * built from. A new code is one row here; `ErrorCode` then admits it in `RouteDef.errors`.
 * The status belongs to the code in the contract (docs/api.md, Conventions), so it lives beside it.
 * Rows are in the order the reference lists them within a status.
 */
export const ERRORS = Object.freeze({
  invalid_json: { status: 400, meaning: 'the body is not valid JSON' },
  validation_failed: { status: 400, meaning: 'a field is missing or invalid; `details.fields` lists each one' },
  invalid_otp: { status: 400, meaning: 'the reset code is wrong, expired, used or burned' },
  invalid_pgp_key: { status: 400, meaning: 'the key is not a usable OpenPGP public key' },
  // v1.1: invalid_totp and invalid_password are not 401, which always means the token (refresh, then sign in again).
  invalid_totp: { status: 400, meaning: 'the two-factor code is wrong or already used (login after the right password, 2FA enable/disable)' },
  // Any other refusal by Koa or a parser (http-errors) that no code above names.
  bad_request: { status: 400, meaning: "the request was refused as HTTP before any endpoint ran; it keeps that refusal's own 4xx status" },
  unauthorized: { status: 401, meaning: 'the access token (or refresh token) is missing, malformed, expired, tampered with or revoked' },
  invalid_credentials: { status: 401, meaning: 'wrong username or password (the same answer for an unknown user)' },
  totp_required: { status: 401, meaning: 'the account has two-factor authentication: send `totp`' },
  forbidden: { status: 403, meaning: 'you may not do this' },
  not_connected: { status: 403, meaning: 'the other user is not an accepted connection (or does not exist)' },
  invalid_password: { status: 403, meaning: 'the password a signed-in request re-checks (change-password, `DELETE /users/me`, 2FA setup, enable and disable) is wrong' },
  not_found: { status: 404, meaning: 'nothing is here' },
  // Additive to docs/api.md: a known path called with another method.
  method_not_allowed: { status: 405, meaning: 'the path exists but not with this method; `Allow` lists the methods' },
  conflict: { status: 409, meaning: 'the request conflicts with the current state' },
  username_taken: { status: 409, meaning: 'the username is registered already (in any case)' },
  email_taken: { status: 409, meaning: 'the e-mail address is registered already' },
  already_connected: { status: 409, meaning: 'you are connected already' },
  request_pending: { status: 409, meaning: 'a connection request is pending already' },
  payload_too_large: { status: 413, meaning: 'the body is over the limit (64 KiB by default)' },
  unsupported_media_type: { status: 415, meaning: 'the body is not sent as `application/json`' },
  rate_limited: {
    status: 429,
    meaning: 'too many requests: wait `Retry-After` seconds; `details.limit` names the limit (its configuration variable), `details.retryAfter` repeats the wait',
  },
  mailbox_full: { status: 429, meaning: "the recipient's mailbox holds too many pending signals; `details.limit` and `details.retryAfter` as for rate_limited" },
  internal: { status: 500, meaning: 'something went wrong on the server; details are in its log, never in the answer' },
  // Additive to docs/api.md: an HTTP method the server does not implement at all (TRACE).
  not_implemented: { status: 501, meaning: 'the HTTP method is not implemented by this server (TRACE, PROPFIND, ...)' },
  unavailable: { status: 503, meaning: 'the store is unreachable: retry after `Retry-After` seconds' },
} as const satisfies Record<string, { status: number; meaning: string }>);

/** A code of the table above; the only codes an `AppError` can carry. */
export type ErrorCode = keyof typeof ERRORS;

/** The codes answered with HTTP status `S`, e.g. `CodeWithStatus<409>` for `conflict()`. */
export type CodeWithStatus<S extends number> = { [C in ErrorCode]: (typeof ERRORS)[C]['status'] extends S ? C : never }[ErrorCode];

/** True when `code` is a row of the table (own keys only: `constructor` is no error code). */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERRORS, code);
}

/** An error the client may see: a code of the table, its status, and a human sentence. */
export class AppError extends Error {
  readonly status: number;

  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
    /** Only for `bad_request`, which keeps the status of the HTTP refusal it stands for. */
    status?: number,
  ) {
    super(message);
    this.name = 'AppError';
    this.status = status ?? ERRORS[code].status;
  }
}

export interface FieldProblem {
  field: string;
  message: string;
}

const retryAfter = (seconds: number) => ({ 'Retry-After': String(seconds) });

// The factories below are the only way code reports failures a client may see, so codes stay consistent.
export const validationFailed = (fields: FieldProblem[]) => new AppError('validation_failed', 'The request has invalid fields.', { fields });
/** An uploaded OpenPGP key broke one of the rules; `message` names the rule (never the key material). */
export const invalidPgpKey = (message: string) => new AppError('invalid_pgp_key', message);
export const invalidJson = () => new AppError('invalid_json', 'The request body is not valid JSON.');
/** A refusal of the HTTP layer (an http-errors error Koa or a parser threw) that no other code names. */
export const badRequest = (status: number) => new AppError('bad_request', 'The request could not be handled.', undefined, undefined, status);
export const unauthorized = (message = 'A valid access token is required.') => new AppError('unauthorized', message);
export const totpRequired = () => new AppError('totp_required', 'This account has two-factor authentication: send the current code as totp.');
export const invalidOtp = () => new AppError('invalid_otp', 'The code is wrong, expired or already used; ask for a new one.');
export const invalidCredentials = () => new AppError('invalid_credentials', 'The username or password is wrong.');
/** A signed-in request re-checked the password and it was wrong: 403, so a client does not take it for a bad token. */
export const invalidPassword = () => new AppError('invalid_password', 'The password is wrong.');
/** A two-factor code was wrong or already used: 400, so a client does not take it for a bad token. */
export const invalidTotp = () => new AppError('invalid_totp', 'The two-factor code is wrong or already used.');
export const forbidden = (message = 'You may not do this.') => new AppError('forbidden', message);
export const notConnected = () => new AppError('not_connected', 'You can only signal accepted connections.');
export const notFound = (message = 'Nothing is here.') => new AppError('not_found', message);
export const methodNotAllowed = (allow: string) => new AppError('method_not_allowed', 'This method is not allowed here.', undefined, { Allow: allow });
export const conflict = (code: CodeWithStatus<409>, message: string) => new AppError(code, message);
export const payloadTooLarge = (limit: number) => new AppError('payload_too_large', `The request body is larger than ${limit} bytes.`);
export const unsupportedMediaType = () => new AppError('unsupported_media_type', 'Send the body as application/json.');
/**
 * Which limit refused a request and when to try again, in the body as in `Retry-After` (whole seconds, at
 * least 1): `limit` is the name of the configuration variable that sets it (docs/api.md), so a developer
 * who meets a 429 knows what to raise. A limit with no variable carries the name of its fixed constant;
 * where the answer deliberately hides which of two limits it was, `limit` names both, joined by `|`.
 */
export interface LimitDetails extends Record<string, unknown> {
  limit: string;
  retryAfter: number;
}

const limitAnswer = (limit: string, retryAfterSeconds: number) => {
  const seconds = Math.max(1, Math.ceil(retryAfterSeconds));
  const details: LimitDetails = { limit, retryAfter: seconds };
  return { details, headers: retryAfter(seconds) };
};

/** 429 rate_limited by `limit` (e.g. `RATE_REGISTER_IP`), free again in `retryAfterSeconds`. */
export const rateLimited = (limit: string, retryAfterSeconds: number, message = `Too many requests (${limit}); try again later.`) => {
  const { details, headers } = limitAnswer(limit, retryAfterSeconds);
  return new AppError('rate_limited', message, details, headers);
};
/** The time a full mailbox is told to wait: short, since a poll drains it at once. */
export const MAILBOX_FULL_RETRY_AFTER_SECONDS = 5;
/**
 * Every target device's mailbox holds MAILBOX_MAX signals (a cap per device), or MAILBOX_PER_SENDER from this sender: the same answer
 * for both (a sender learns only that these mailboxes take no more from them now), so `limit` names both.
 */
export const mailboxFull = () => {
  const { details, headers } = limitAnswer('MAILBOX_MAX|MAILBOX_PER_SENDER', MAILBOX_FULL_RETRY_AFTER_SECONDS);
  return new AppError('mailbox_full', "The recipient's mailbox is full; try again when they have caught up.", details, headers);
};
/** An unknown error: its own message is logged, never answered. */
export const internal = () => new AppError('internal', 'Something went wrong on our side.');
export const notImplemented = () => new AppError('not_implemented', 'This method is not supported.');
export const unavailable = (message = 'The service is unavailable; try again shortly.', retryAfterSeconds = 5) =>
  new AppError('unavailable', message, undefined, retryAfter(retryAfterSeconds));
