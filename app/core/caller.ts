/**
 * Who is asking: the signed-in user and the session (device) the request came through. The HTTP layer
 * finds it from the access token; services take it as their first argument and know no HTTP.
 */
export interface Caller {
  userId: string;
  sessionId: string;
}

/**
 * Where a security-relevant action came from, for the account's security log: the device (session)
 * that made it, if any, and the client address of the request, if any. The operator's actions (admin
 * CLI) have neither.
 */
export interface EventOrigin {
  deviceId: string | null;
  ip: string | null;
}
