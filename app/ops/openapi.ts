import { z } from 'zod';
import { ERRORS, type ErrorCode } from '../core/errors.js';
import type { AnyRoute } from '../http/route.js';

type JsonSchema = Record<string, unknown>;

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const { $schema: _ignored, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  return rest;
}

/** Turns an object schema (query or path) into OpenAPI parameters. */
function parameters(schema: z.ZodType | undefined, where: 'query' | 'path'): JsonSchema[] {
  if (!schema) return [];
  const s = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(s.properties ?? {}).map(([name, prop]) => ({
    name,
    in: where,
    required: where === 'path' || (s.required ?? []).includes(name),
    description: prop.description,
    schema: prop,
  }));
}

const errorRef = { $ref: '#/components/responses/Error' };

/**
 * Codes a route can answer without listing them: a bad field and our own failure anywhere, a bad token
 * where it needs one, and a bad body (JSON, size, type) where it takes one.
 */
function genericCodes(r: AnyRoute): ErrorCode[] {
  const codes: ErrorCode[] = ['validation_failed', 'internal'];
  if (r.auth) codes.push('unauthorized');
  if (r.body) codes.push('invalid_json', 'payload_too_large', 'unsupported_media_type');
  return codes;
}

/** The OpenAPI 3.1 document, built from the same route definitions the router serves. */
/** The version of the wire contract (shared/API.md) this server implements; the software's own is `info.version`. */
export const API_CONTRACT_VERSION = '1.1';

export function buildOpenApi(routes: AnyRoute[], info: { version: string }): JsonSchema {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
    const responses: Record<string, unknown> = {};
    for (const [status, doc] of Object.entries(r.responses)) {
      responses[status] = doc.schema
        ? { description: doc.description, content: { 'application/json': { schema: jsonSchema(doc.schema, 'output') } } }
        : { description: doc.description };
    }
    const errorStatuses = new Set<string>();
    for (const code of [...genericCodes(r), ...(r.errors ?? [])]) errorStatuses.add(String(ERRORS[code].status));
    for (const s of [...errorStatuses].sort()) responses[s] = errorRef;

    paths[path] ??= {};
    paths[path][r.method] = {
      tags: [r.tag],
      summary: r.summary,
      description: [r.description, r.errors?.length ? `Error codes: ${r.errors.map((c) => `\`${c}\``).join(', ')}.` : '']
        .filter(Boolean)
        .join('\n\n') || undefined,
      operationId: `${r.method}${path.replace(/[{}]/g, '').replace(/(^|[/_-])(\w)/g, (_m, _s, c: string) => c.toUpperCase())}`,
      security: r.auth ? [{ bearer: [] }] : [],
      parameters: [...parameters(r.params, 'path'), ...parameters(r.query, 'query')],
      requestBody: r.body ? { required: true, content: { 'application/json': { schema: jsonSchema(r.body, 'input') } } } : undefined,
      responses,
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
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', description: 'stable snake_case code' },
                message: { type: 'string', description: 'a human sentence' },
                details: { type: 'object', description: 'for validation_failed: {fields: [{field, message}]}' },
              },
            },
          },
        },
      },
      responses: {
        Error: {
          description: 'An error in the single error shape.',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
        },
      },
    },
  };
}
