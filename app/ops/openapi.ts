import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../core/errors.js';
import type { AnyRoute, HttpMethod } from '../http/route.js';

type JsonSchema = Record<string, unknown>;

/** The version of the wire contract (docs/api.md) this server implements; the software's own is `info.version`. */
export const API_CONTRACT_VERSION = '1.1';

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return rest;
}

// zod's int() adds the safe-integer range as bounds; they say nothing to a reader or a client generator.
const meaningfulBound = (n: unknown): number | undefined => (typeof n === 'number' && Math.abs(n) < Number.MAX_SAFE_INTEGER ? n : undefined);

/**
 * A query value is text on the wire; what it is parsed into is the type a client should see. A field
 * that takes a string of digits (`^\d{1,2}$`) and pipes it into an integer, or a coerced number, is
 * documented as that number, with the bounds the parse enforces: a digit string is never negative,
 * and `\d{1,2}` is never over 99.
 */
function queryValueSchema(input: JsonSchema, output: JsonSchema | undefined): JsonSchema {
  const numeric = output && (output.type === 'integer' || output.type === 'number') ? output : undefined;
  if (!numeric) return input;
  const digits = typeof input.pattern === 'string' ? /^\^\\d(?:\{(?:\d+,)?(\d+)\}|\+)\$$/.exec(input.pattern) : null;
  if (input.type === 'string' && !digits) return input; // text with its own rules: leave it as text
  const bounds = [meaningfulBound(numeric.minimum), digits ? 0 : undefined].filter((n) => n !== undefined);
  const minimum = bounds.length > 0 ? Math.max(...bounds) : undefined;
  const highs = [meaningfulBound(numeric.maximum), digits?.[1] ? 10 ** Number(digits[1]) - 1 : undefined].filter((n) => n !== undefined);
  const maximum = highs.length > 0 ? Math.min(...highs) : undefined;
  return {
    description: input.description ?? numeric.description,
    type: numeric.type,
    ...(minimum !== undefined ? { minimum } : {}),
    ...(maximum !== undefined ? { maximum } : {}),
    ...(numeric.default !== undefined ? { default: numeric.default } : {}),
  };
}

/** Turns an object schema (query or path) into OpenAPI parameters. */
function parameters(schema: z.ZodType | undefined, where: 'query' | 'path'): JsonSchema[] {
  if (!schema) return [];
  const input = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  const output = jsonSchema(schema, 'output') as { properties?: Record<string, JsonSchema> };
  return Object.entries(input.properties ?? {}).map(([name, prop]) => ({
    name,
    in: where,
    required: where === 'path' || (input.required ?? []).includes(name),
    description: prop.description,
    schema: queryValueSchema(prop, output.properties?.[name]),
  }));
}

// The body parser (http/jsonBody.ts) runs before the router on every request of these methods, so each
// of them can be refused as a body (400/413/415) whether or not its route takes one.
const METHODS_WITH_BODY = new Set<HttpMethod>(['post', 'put', 'delete']);

/**
 * A route reaches the store when it authenticates (the session is looked up on every request), is
 * rate limited (the limits are kept in the store) or changes anything (every method but GET): each of
 * these can answer 503 unavailable while the store is unreachable (http/errorHandler.ts).
 */
const touchesStore = (r: AnyRoute) => r.auth || r.method !== 'get' || (r.errors ?? []).includes('rate_limited');

/**
 * Every code a route can answer: those it names, and those its steps answer for any route of its kind
 * (http/router.ts, http/jsonBody.ts, http/errorHandler.ts). The one place the generic rules live; in the
 * order of the table in core/errors.ts.
 */
export function errorCodesOf(r: AnyRoute): ErrorCode[] {
  const codes = new Set<ErrorCode>(r.errors ?? []);
  if (r.body || r.query || r.params) codes.add('validation_failed');
  if (METHODS_WITH_BODY.has(r.method)) for (const c of ['invalid_json', 'payload_too_large', 'unsupported_media_type'] as const) codes.add(c);
  // 401 always means the token (docs/api.md); a 403 is a refusal of the caller's request itself, so
  // only the routes that can refuse one name it (not_connected, invalid_password).
  if (r.auth) codes.add('unauthorized');
  if (touchesStore(r)) codes.add('unavailable');
  codes.add('internal');
  return (Object.keys(ERRORS) as ErrorCode[]).filter((c) => codes.has(c));
}

// Statuses whose answers carry Retry-After (rate_limited and mailbox_full, unavailable): core/errors.ts.
const RETRY_AFTER_STATUSES = new Set(['429', '503']);

/** An error response for one status, naming the codes this operation can answer with it. */
function errorResponse(status: string, codes: ErrorCode[]): JsonSchema {
  return {
    description: `${codes.map((c) => `\`${c}\`: ${ERRORS[c].meaning}`).join('; ')}.`,
    ...(RETRY_AFTER_STATUSES.has(status) ? { headers: { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } } : {}),
    content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
  };
}

/** `/connections/` is also served bare (http/router.ts); the bare path is the one documented. */
const canonicalPath = (path: string) => (path.length > 1 ? path.replace(/\/$/, '') : path);

/**
 * `get /users/:username` → `getUsersUsername`: the method, then each word of the path capitalised,
 * anything but letters and digits dropped. A route whose derived name reads badly sets `operationId`.
 */
function operationIdOf(r: AnyRoute): string {
  if (r.operationId) return r.operationId;
  const words = canonicalPath(r.path)
    .split(/[^A-Za-z0-9]+/)
    .filter(Boolean);
  return r.method + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

/** The OpenAPI 3.1 document, built from the same route definitions the router serves. */
export function buildOpenApi(routes: AnyRoute[], info: { version: string }): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  const operationIds = new Set<string>();
  for (const r of routes) {
    const path = canonicalPath(r.path).replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const operationId = operationIdOf(r);
    // Generated clients name their methods after these: two alike would silently become one.
    if (operationIds.has(operationId)) throw new Error(`operationId ${operationId} is used twice (${r.method} ${r.path}): set operationId on one`);
    operationIds.add(operationId);

    const responses: Record<string, unknown> = {};
    for (const [status, doc] of Object.entries(r.responses)) {
      responses[status] = doc.schema
        ? { description: doc.description, content: { 'application/json': { schema: jsonSchema(doc.schema, 'output') } } }
        : { description: doc.description };
    }
    const codes = errorCodesOf(r);
    const byStatus = new Map<string, ErrorCode[]>();
    for (const c of codes) byStatus.set(String(ERRORS[c].status), [...(byStatus.get(String(ERRORS[c].status)) ?? []), c]);
    for (const s of [...byStatus.keys()].sort()) {
      const declared = r.responses[Number(s)];
      const error = errorResponse(s, byStatus.get(s)!);
      // A route that declares its own body for an error status (GET /health's 503 degraded, which is the
      // error shape with more fields) keeps it: the answer is that body or the plain error shape.
      responses[s] = declared?.schema
        ? {
            ...error,
            description: `${declared.description} ${error.description as string}`,
            content: { 'application/json': { schema: { anyOf: [jsonSchema(declared.schema, 'output'), { $ref: '#/components/schemas/Error' }] } } },
          }
        : error;
    }

    paths[path] ??= {};
    paths[path][r.method] = {
      tags: [r.tag],
      summary: r.summary,
      description: [r.description, r.errors?.length ? `Error codes: ${r.errors.map((c) => `\`${c}\``).join(', ')}.` : ''].filter(Boolean).join('\n\n') || undefined,
      operationId,
      security: r.auth ? [{ bearer: [] }] : [],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      requestBody: r.body ? { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } } : undefined,
      responses,
      // Every code this operation can answer, generic ones included: docs/api.md lists them from here.
      'x-error-codes': codes,
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Signalbox',
      version: info.version,
      description:
        `Self-hosted signaling for end-to-end encrypted WebRTC, wire contract v${API_CONTRACT_VERSION} (every session is a ` +
        'device with its own mailbox; server events ride the mailbox; 401 always means the token). Every error has the shape ' +
        '`{"error": {"code", "message", "details?"}}`; every response carries `X-Request-Id`.',
      license: { name: 'MIT', identifier: 'MIT' },
      'x-api-version': API_CONTRACT_VERSION,
    },
    // Relative to where the document is fetched (this server's /openapi.json): the server knows no public
    // URL of its own (behind a proxy it listens on 127.0.0.1), and the API sits at the root of its origin.
    servers: [{ url: '/', description: 'this server' }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        ErrorCode: {
          type: 'string',
          enum: Object.keys(ERRORS),
          description: 'stable snake_case code, meant for programs; each has one HTTP status (docs/api.md, Errors)',
        },
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { $ref: '#/components/schemas/ErrorCode' },
                message: { type: 'string', description: 'a human sentence' },
                details: { type: 'object', description: 'for validation_failed: {fields: [{field, message}]}' },
              },
            },
          },
        },
      },
      headers: {
        RetryAfter: {
          description: 'Seconds to wait before trying again.',
          required: true,
          schema: { type: 'integer', minimum: 1 },
        },
      },
    },
  };
}
