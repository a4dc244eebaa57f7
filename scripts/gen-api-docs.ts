/**
 * Writes docs/api.md, the Markdown API reference, from the OpenAPI document the server itself serves
 * (built by buildOpenApi from the route definitions). Run it with `npm run docs:api`; a test fails
 * when the committed file differs from what this renders, so the reference cannot drift from the code.
 */
import { API_CONTRACT_VERSION } from '../app/ops/openapi.js';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { pino } from 'pino';
import { parseConfig } from '../app/config/parse.js';
import { ERRORS, isErrorCode } from '../app/core/errors.js';
import { createApp } from '../app/server.js';
import { openSqliteStore } from '../app/store/sqlite/index.js';

interface Schema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  additionalProperties?: boolean | Schema;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  enum?: unknown[];
  const?: unknown;
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  minItems?: number;
  maxItems?: number;
  default?: unknown;
  $ref?: string;
}

interface Parameter {
  name: string;
  in: 'query' | 'path';
  required: boolean;
  description?: string;
  schema: Schema;
}

interface Operation {
  tags?: string[];
  summary?: string;
  description?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
  responses: Record<string, { description?: string; content?: Record<string, { schema: Schema }>; $ref?: string }>;
  /** Every code the operation can answer, generic ones included (buildOpenApi's errorCodesOf). */
  'x-error-codes'?: string[];
}

/** The parts of an OpenAPI 3.1 document the reference is rendered from. */
export interface OpenApiDocument {
  openapi: string;
  info: { title: string; version: string; description?: string };
  paths: Record<string, Record<string, Operation>>;
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

const isAuthenticated = (op: Operation) => (op.security ?? []).some((s) => 'bearer' in s);

/** Drops the "Error codes: `a`, `b`." paragraph buildOpenApi appends: the Errors table lists them. */
const withoutCodeList = (description: string | undefined) =>
  (description ?? '')
    .split('\n\n')
    .filter((p) => p && !/^Error codes: .*\.$/.test(p))
    .join('\n\n');

/** Escapes text for a Markdown table cell. */
const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n+/g, ' ');
const code = (s: string) => (s.includes('`') ? `\`\` ${s} \`\`` : `\`${s}\``);

// zod's int() adds the safe-integer range; it says nothing to a reader.
const isSafeBound = (n: number | undefined) => n === undefined || Math.abs(n) >= Number.MAX_SAFE_INTEGER;

/** A short type expression: `string`, `integer`, `string \| null`, `"offer" \| "answer"`, `object[]`. */
function typeOf(s: Schema): string {
  if (s.$ref) return s.$ref.split('/').pop()!;
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.enum) return s.enum.map((v) => JSON.stringify(v)).join(' | ');
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return [...new Set(variants.map(typeOf))].join(' | ');
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (types.length === 0) return 'any';
  return types.map((t) => (t === 'array' ? `${s.items ? typeOf(s.items) : 'any'}[]` : t)).join(' | ');
}

/** The constraints of a schema, in words. */
function rulesOf(s: Schema): string[] {
  const variants = s.anyOf ?? s.oneOf;
  if (variants) return variants.flatMap(rulesOf);
  const rules: string[] = [];
  const { minLength: min, maxLength: max } = s;
  if (min !== undefined && max !== undefined) rules.push(min === max ? `exactly ${min} characters` : `${min}-${max} characters`);
  else if (min !== undefined) rules.push(`at least ${min} character${min === 1 ? '' : 's'}`);
  else if (max !== undefined) rules.push(`at most ${max} characters`);
  if (s.pattern) rules.push(`matches ${code(s.pattern)}`);
  if (s.format) rules.push(`format ${s.format}`);
  const lo = isSafeBound(s.minimum) ? undefined : s.minimum;
  const hi = isSafeBound(s.maximum) ? undefined : s.maximum;
  if (lo !== undefined && hi !== undefined) rules.push(`from ${lo} to ${hi}`);
  else if (lo !== undefined) rules.push(`at least ${lo}`);
  else if (hi !== undefined) rules.push(`at most ${hi}`);
  if (s.exclusiveMinimum !== undefined) rules.push(`over ${s.exclusiveMinimum}`);
  if (s.exclusiveMaximum !== undefined) rules.push(`under ${s.exclusiveMaximum}`);
  if (s.minItems !== undefined) rules.push(`at least ${s.minItems} items`);
  if (s.maxItems !== undefined) rules.push(`at most ${s.maxItems} items`);
  if (s.default !== undefined) rules.push(`default ${code(JSON.stringify(s.default))}`);
  return rules;
}

/** The object schema inside a nullable/array wrapper, when there is one to list fields of. */
function objectWithin(s: Schema): Schema | undefined {
  if (s.properties) return s;
  if (s.items) return objectWithin(s.items);
  for (const v of s.anyOf ?? s.oneOf ?? []) {
    const o = objectWithin(v);
    if (o) return o;
  }
  return undefined;
}

interface FieldRow {
  name: string;
  type: string;
  required: boolean;
  rules: string[];
  description: string;
}

/** Flattens an object schema into rows, nested fields as `parent.child` and `list[].child`. */
function fieldsOf(s: Schema, prefix = '', depth = 0): FieldRow[] {
  const rows: FieldRow[] = [];
  const required = new Set(s.required ?? []);
  for (const [name, prop] of Object.entries(s.properties ?? {})) {
    const path = `${prefix}${name}`;
    rows.push({ name: path, type: typeOf(prop), required: required.has(name), rules: rulesOf(prop), description: prop.description ?? '' });
    const inner = objectWithin(prop);
    if (inner && depth < 3) {
      const isList = typeOf(prop).includes('[]');
      rows.push(...fieldsOf(inner, `${path}${isList ? '[]' : ''}.`, depth + 1));
    }
  }
  return rows;
}

function fieldTable(rows: FieldRow[], withRequired: boolean): string[] {
  const head = withRequired ? ['| Field | Type | Required | Rules | Description |', '|---|---|---|---|---|'] : ['| Field | Type | Description |', '|---|---|---|'];
  return [
    ...head,
    ...rows.map((r) =>
      withRequired
        ? `| ${code(r.name)} | ${cell(code(r.type))} | ${r.required ? 'yes' : 'no'} | ${cell(r.rules.join('; ') || '–')} | ${cell(r.description || '–')} |`
        : `| ${code(r.name)} | ${cell(code(r.type))} | ${cell([r.description, ...r.rules].filter(Boolean).join('; ') || '–')} |`,
    ),
  ];
}

const anchor = (method: string, path: string) =>
  `${method}-${path}`
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-|-$/g, '');

function renderOperation(method: string, path: string, op: Operation): string[] {
  const out: string[] = [`<a id="${anchor(method, path)}"></a>`, `### ${method.toUpperCase()} ${path}`, ''];
  if (op.summary) out.push(`${op.summary}.`.replace(/\.\.$/, '.'), '');
  const text = withoutCodeList(op.description);
  out.push(`**Auth:** ${isAuthenticated(op) ? '`Authorization: Bearer <accessToken>`' : 'none'}`, '');
  if (text) out.push(text, '');

  for (const where of ['path', 'query'] as const) {
    const params = (op.parameters ?? []).filter((p) => p.in === where);
    if (params.length === 0) continue;
    out.push(`**${where === 'path' ? 'Path' : 'Query'} parameters**`, '');
    out.push(
      ...fieldTable(
        params.map((p) => ({
          name: p.name,
          type: typeOf(p.schema),
          required: p.required,
          rules: rulesOf(p.schema),
          description: p.description ?? p.schema.description ?? '',
        })),
        true,
      ),
      '',
    );
  }

  const body = op.requestBody?.content['application/json']?.schema;
  if (body) {
    const rows = fieldsOf(body);
    out.push('**Request body** (`application/json`)', '');
    // A union of object shapes (zod's discriminatedUnion): one table per shape, named by its constant field.
    const alternatives = (body.oneOf ?? body.anyOf ?? []).filter((alt) => alt.properties);
    if (rows.length === 0 && alternatives.length > 0) {
      out.push('One of these shapes:', '');
      for (const alt of alternatives) {
        const tag = Object.entries(alt.properties!).find(([, prop]) => prop.const !== undefined);
        out.push(tag ? `With \`${tag[0]}: ${JSON.stringify(tag[1].const)}\`:` : 'Or:', '', ...fieldTable(fieldsOf(alt), true), '');
      }
      if (alternatives.every((alt) => alt.additionalProperties === false)) out.push('Fields not listed for the shape are refused with `400 validation_failed`.', '');
    } else if (rows.length === 0) out.push('An empty object: `{}`.', '');
    else out.push(...fieldTable(rows, true), '');
    if (body.additionalProperties === false && rows.length > 0) out.push('Fields not listed here are refused with `400 validation_failed`.', '');
  }

  out.push('**Responses**', '');
  const statuses = Object.keys(op.responses).sort();
  for (const status of statuses.filter((s) => /^[23]/.test(s))) {
    const r = op.responses[status]!;
    const schema = r.content?.['application/json']?.schema;
    out.push(`- \`${status}\`: ${r.description ?? ''}${schema ? ' Body:' : ''}`);
    if (schema) {
      const rows = fieldsOf(schema);
      out.push('', ...(rows.length ? fieldTable(rows, false) : [`  ${code(typeOf(schema))}`]), '');
    }
  }
  if (!statuses.some((s) => /^[23]/.test(s))) out.push('- none documented');
  out.push('');

  const byStatus = new Map<string, string[]>();
  for (const c of op['x-error-codes'] ?? []) {
    const status = isErrorCode(c) ? String(ERRORS[c].status) : 'other';
    byStatus.set(status, [...(byStatus.get(status) ?? []), c]);
  }
  if (byStatus.size > 0) {
    out.push('**Errors**', '', '| Status | Codes |', '|---|---|');
    for (const [status, list] of [...byStatus].sort(([a], [b]) => a.localeCompare(b))) out.push(`| ${status} | ${list.map(code).join(', ')} |`);
    out.push('');
  }
  return out;
}

function renderIntro(doc: OpenApiDocument): string[] {
  const byStatus = new Map<number, Array<[string, string]>>();
  for (const [c, { status, meaning }] of Object.entries(ERRORS)) byStatus.set(status, [...(byStatus.get(status) ?? []), [c, meaning]]);
  return [
    `# ${doc.info.title} API reference`,
    '',
    '<!-- Generated by `npm run docs:api` (scripts/gen-api-docs.ts) from the OpenAPI document. Do not edit by hand. -->',
    '',
    'Every endpoint the server answers, generated from the same route definitions the router serves. The',
    'machine-readable form is served at `GET /openapi.json` (OpenAPI 3.1) and rendered at `GET /docs`.',
    `This is wire contract v${API_CONTRACT_VERSION}: every session is a device with its own mailbox, server events ride`,
    'the mailbox, and `401` always means the token (a wrong password or code on a signed-in request is `403`/`400`).',
    '',
    '## Conventions',
    '',
    '- JSON in, JSON out (`Content-Type: application/json; charset=utf-8`). A body that is not valid JSON gets',
    '  `400 invalid_json`, another content type `415 unsupported_media_type`, a body over the limit (64 KiB by',
    '  default) `413 payload_too_large`.',
    '- Authenticated endpoints take `Authorization: Bearer <accessToken>`. A missing, malformed, expired,',
    '  tampered or revoked token gets `401 unauthorized`; revocation takes effect at once.',
    '- Usernames are 3-32 characters of `[A-Za-z0-9_]`, unique case-insensitively and returned in lower case;',
    '  wherever one is taken as input, a leading `@` is accepted and ignored.',
    '- Times are ISO-8601 UTC strings. IDs are opaque strings.',
    '- Every response carries `X-Request-Id` (a valid incoming one is echoed). Responses that carry tokens or',
    '  personal data carry `Cache-Control: no-store`.',
    '- Rate-limited endpoints answer `429 rate_limited` with `Retry-After` (seconds), as does `429 mailbox_full`.',
    '- Every endpoint that reaches the store (each authenticated or rate-limited one, and every method but GET)',
    '  answers `503 unavailable` with `Retry-After` while the store is unreachable.',
    '',
    '### Errors',
    '',
    'Every error has one shape, and never a stack trace:',
    '',
    '```json',
    '{"error": {"code": "validation_failed", "message": "The request has invalid fields.",',
    '           "details": {"fields": [{"field": "email", "message": "must be an e-mail address"}]}}}',
    '```',
    '',
    '`code` is stable and meant for programs; `message` is a human sentence; `details` is optional.',
    '',
    '| Status | Code | Meaning |',
    '|---|---|---|',
    ...[...byStatus.entries()].sort(([a], [b]) => a - b).flatMap(([status, rows]) => rows.map(([c, meaning]) => `| ${status} | ${code(c)} | ${cell(meaning)} |`)),
    '',
  ];
}

/** Renders the Markdown reference for an OpenAPI document; pure, so a test can compare it to docs/api.md. */
export function renderApiDocs(doc: OpenApiDocument): string {
  const byTag = new Map<string, Array<[string, string, Operation]>>();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = ops[method];
      if (!op) continue;
      const tag = op.tags?.[0] ?? 'Other';
      byTag.set(tag, [...(byTag.get(tag) ?? []), [method, path, op]]);
    }
  }
  const out = renderIntro(doc);
  out.push('## Endpoints', '');
  for (const [tag, ops] of byTag) {
    out.push(`- **${tag}**: ${ops.map(([m, p]) => `[${m.toUpperCase()} ${p}](#${anchor(m, p)})`).join(', ')}`);
  }
  out.push('');
  for (const [tag, ops] of byTag) {
    out.push(`## ${tag}`, '');
    for (const [method, path, op] of ops) out.push(...renderOperation(method, path, op));
  }
  return `${out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trimEnd()}\n`;
}

/** The OpenAPI document exactly as a freshly built app serves it at /openapi.json. */
export async function loadOpenApi(): Promise<OpenApiDocument> {
  // Throwaway secrets and an in-memory store: the document does not depend on either.
  const config = parseConfig({ DATA_DIR: tmpdir(), LOG_LEVEL: 'silent' }, { jwtSecret: Buffer.alloc(32), dataKey: Buffer.alloc(32) });
  const store = openSqliteStore(':memory:');
  const app = createApp({ config, store, logger: pino({ level: 'silent' }) });
  const server = createServer(app.handler);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('no address');
    const res = await fetch(`http://127.0.0.1:${address.port}/openapi.json`);
    if (!res.ok) throw new Error(`/openapi.json answered ${res.status}`);
    return (await res.json()) as OpenApiDocument;
  } finally {
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await store.close();
  }
}

/** The repository root: the nearest directory up from this file holding signalbox's package.json. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: string }).name === 'signalbox') return dir;
    dir = dirname(dir);
  }
  throw new Error('cannot find the signalbox repository root');
}

async function main(): Promise<void> {
  const file = join(repoRoot(), 'docs', 'api.md');
  writeFileSync(file, renderApiDocs(await loadOpenApi()));
  process.stdout.write(`wrote ${file}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`gen-api-docs: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
