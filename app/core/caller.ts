/**
 * Who is asking: the signed-in user and the session (device) the request came through. The HTTP layer
 * finds it from the access token; services take it as their first argument and know no HTTP.
 */
export interface Caller {
  userId: string;
  sessionId: string;
}
