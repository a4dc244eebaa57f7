import type { Middleware } from 'koa';
import type { z } from 'zod';
import type { ErrorCode } from '../core/errors.js';
import type { AppContext, AppState } from './context.js';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

export interface ResponseDoc {
  description: string;
  /** The JSON body's schema; absent for 204 and similar. */
  schema?: z.ZodType;
}

export interface Input<B, Q, P> {
  body: B;
  query: Q;
  params: P;
}

/**
 * One endpoint: what it accepts, what it answers and how. The router and the OpenAPI document are
 * both built from these, so the documentation cannot drift from the code.
 */
export interface RouteDef<B = unknown, Q = unknown, P = unknown> {
  method: HttpMethod;
  /** Koa-router syntax: `/users/:username`. */
  path: string;
  tag: string;
  summary: string;
  /**
   * The OpenAPI operationId, when the one derived from method and path reads badly (`getOpenapiJson`).
   * Generated clients name their methods after it, so once published it stays.
   */
  operationId?: string;
  description?: string;
  /** Requires `Authorization: Bearer <accessToken>`. */
  auth: boolean;
  body?: z.ZodType<B>;
  query?: z.ZodType<Q>;
  params?: z.ZodType<P>;
  /** Success answers, by status. */
  responses: Record<number, ResponseDoc>;
  /** Error codes this endpoint can answer beyond the generic ones, for the reference (rows of core/errors.ts). */
  errors?: ErrorCode[];
  /** Extra middleware that runs first (rate limits). */
  before?: Array<Middleware<AppState, AppContext>>;
  handler: (ctx: AppContext, input: Input<B, Q, P>) => Promise<void> | void;
}

// Route lists mix many input types; the precise types only matter inside each definition.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a list of routes of different input types; each definition keeps its precise types
export type AnyRoute = RouteDef<any, any, any>;

/** Identity at runtime; lets TypeScript infer the handler's input types from the schemas. */
export function defineRoute<B = undefined, Q = undefined, P = undefined>(def: RouteDef<B, Q, P>): AnyRoute {
  return def as AnyRoute;
}
