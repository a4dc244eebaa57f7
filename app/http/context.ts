import type { RouterContext } from '@koa/router';
import type { ParameterizedContext } from 'koa';
import type { Caller, EventOrigin } from '../core/caller.js';

export interface AppState {
  requestId: string;
  /** Set by `authenticate` on protected routes. */
  auth?: Caller;
}

export type AppContext = ParameterizedContext<AppState, RouterContext<AppState>>;

/** The authenticated caller; only call on routes that run `authenticate`. */
export function caller(ctx: AppContext): Caller {
  const auth = ctx.state.auth;
  if (!auth) throw new Error('route is missing authenticate');
  return auth;
}

/** The origin of this request for the security log: the signed-in device, if any, and the client address. */
export function originOf(ctx: AppContext): EventOrigin {
  return { deviceId: ctx.state.auth?.sessionId ?? null, ip: ctx.ip };
}
