/** An error the client may see: a stable snake_case code, an HTTP status and a human sentence. */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export interface FieldProblem {
  field: string;
  message: string;
}

// The factories below are the only way handlers report failures, so codes stay consistent.
export const badRequest = (code: string, message: string, details?: Record<string, unknown>) =>
  new AppError(400, code, message, details);
export const validationFailed = (fields: FieldProblem[]) =>
  new AppError(400, 'validation_failed', 'The request has invalid fields.', { fields });
/** An uploaded OpenPGP key broke one of the rules; `message` names the rule (never the key material). */
export const invalidPgpKey = (message: string) => new AppError(400, 'invalid_pgp_key', message);
export const invalidJson = () => new AppError(400, 'invalid_json', 'The request body is not valid JSON.');
export const unauthorized = (message = 'A valid access token is required.') => new AppError(401, 'unauthorized', message);
export const totpRequired = () =>
  new AppError(401, 'totp_required', 'This account has two-factor authentication: send the current code as totp.');
export const invalidOtp = () => new AppError(400, 'invalid_otp', 'The code is wrong, expired or already used; ask for a new one.');
export const invalidCredentials = () => new AppError(401, 'invalid_credentials', 'The username or password is wrong.');
export const forbidden = (message = 'You may not do this.') => new AppError(403, 'forbidden', message);
export const notFound = (message = 'Nothing is here.') => new AppError(404, 'not_found', message);
export const methodNotAllowed = (allow: string) =>
  new AppError(405, 'method_not_allowed', 'This method is not allowed here.', undefined, { Allow: allow });
export const conflict = (code: string, message: string) => new AppError(409, code, message);
export const payloadTooLarge = (limit: number) =>
  new AppError(413, 'payload_too_large', `The request body is larger than ${limit} bytes.`);
export const unsupportedMediaType = () =>
  new AppError(415, 'unsupported_media_type', 'Send the body as application/json.');
export const rateLimited = (retryAfterSeconds: number, message = 'Too many requests; try again later.') =>
  new AppError(429, 'rate_limited', message, undefined, { 'Retry-After': String(Math.max(1, Math.ceil(retryAfterSeconds))) });
export const unavailable = (message = 'The service is unavailable; try again shortly.', retryAfterSeconds = 5) =>
  new AppError(503, 'unavailable', message, undefined, { 'Retry-After': String(retryAfterSeconds) });
