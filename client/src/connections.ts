import type { Session } from './session.js';
import type { Connection, ConnectionRequest } from './types.js';
import { normaliseUsername } from './usernames.js';

/** `request` either asks (`{request}`), or accepts the other user's pending request to you (`{connection}`). */
export type RequestOutcome = { request: ConnectionRequest } | { connection: Connection };
export type RespondOutcome = { connection: Connection } | { rejected: true };

export interface PendingRequests {
  incoming: ConnectionRequest[];
  outgoing: ConnectionRequest[];
}

/** The request/accept graph (docs/api.md "Connections"): only connections can signal each other. */
export class Connections {
  constructor(private readonly session: Session) {}

  request(username: string, message?: string): Promise<RequestOutcome> {
    const body = { username: normaliseUsername(username), ...(message === undefined ? {} : { message }) };
    return this.session.request<RequestOutcome>('POST', '/connections/request', { body });
  }

  respond(username: string, action: 'accept' | 'reject'): Promise<RespondOutcome> {
    return this.session.request<RespondOutcome>('POST', '/connections/respond', { body: { username: normaliseUsername(username), action } });
  }

  async list(): Promise<Connection[]> {
    return (await this.session.request<{ connections: Connection[] }>('GET', '/connections/')).connections;
  }

  pending(): Promise<PendingRequests> {
    return this.session.request<PendingRequests>('GET', '/connections/pending');
  }

  /** Removes the connection, or cancels your outgoing request. */
  async remove(username: string): Promise<void> {
    await this.session.request<unknown>('DELETE', `/connections/${encodeURIComponent(normaliseUsername(username))}`);
  }
}
