import { afterAll, describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import fc from 'fast-check';
import type { Response } from 'supertest';
import { vapidKeysOf } from '../../app/config/secrets.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { useSmtpServer } from '../helpers/perTest.js';
import { expectApiError } from '../http/errorShape.js';
import { hostileString, hostileValue, jsonBody, notJson, paramValue, ref, resolveRefs, type JsonSchema } from './arbitraries.js';
import { DbSnapshotter, snapshotDiff } from './dbSnapshot.js';
import { Wire, type WireRequest, type WireResponse } from './wire.js';
import { buildWorld, refillMailboxes, type World } from './world.js';

// Property-based fuzzing of every operation of the server's own OpenAPI document (docs/api.md): random and
// boundary bodies, queries, path parameters and headers, with and without valid auth, against a real app
// on a real SQLite file. Invariants: never a 5xx; every 4xx in the single error shape with a JSON content
// type; a refused request changes no stored record. Statuses the document does not declare are collected
// and asserted on in a test of their own, since they are the document's fault, not the server's.
//
// FUZZ_RUNS (cases per operation: 20 by default so `npm test` stays a fast inner loop; CI runs the full
// depth, FUZZ_RUNS=200, once in .ci/run) and FUZZ_SEED (fast-check prints the seed and path of a failure;
// pass the seed back to replay it) tune a run.

const RUNS = Number(process.env.FUZZ_RUNS ?? 20);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);

interface Parameter {
  name: string;
  in: 'query' | 'path';
  required: boolean;
  schema: JsonSchema;
}

interface Operation {
  method: string;
  path: string;
  auth: boolean;
  parameters: Parameter[];
  body?: JsonSchema;
  declared: Set<number>;
}

/** The operations of GET /openapi.json, read from a throwaway app before the tests are declared. */
async function readOperations(): Promise<Operation[]> {
  const t = makeTestApp();
  try {
    const doc = (await t.http.get('/openapi.json')).body as {
      paths: Record<
        string,
        Record<
          string,
          { security: unknown[]; parameters: Parameter[]; requestBody?: { content: Record<string, { schema: JsonSchema }> }; responses: Record<string, unknown> }
        >
      >;
    };
    return Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => ({
        method: method.toUpperCase(),
        path,
        auth: op.security.length > 0,
        parameters: op.parameters,
        body: op.requestBody?.content['application/json']?.schema,
        declared: new Set(Object.keys(op.responses).map(Number)),
      })),
    );
  } finally {
    await t.close();
  }
}

const operations = await readOperations();

/** A value placed in the path or query: encoded when sent unless `raw` (malformed percent-encoding on purpose). */
interface Piece {
  value: string;
  raw: boolean;
}

type Body = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'raw'; bytes: Buffer };

/** One generated request, with world values as `ref` markers. */
interface FuzzCase {
  authorization: string | null;
  contentType: string | null;
  body: Body;
  path: Record<string, Piece>;
  query: Array<[string, Piece]>;
}

const bearer = (key: string) => `Bearer ${ref(key)}`;

/** Only printable ASCII may go in a header; anything else is replaced so the request can be sent at all. */
const headerSafe = (s: string) => s.replace(/[^\x20-\x7e]/g, '?');

/** Authorization values: the valid one most often (so cases reach the validation), every wrong kind besides. */
const authorization = (auth: boolean): fc.Arbitrary<string | null> => {
  const wrong = fc.oneof(
    fc.constantFrom(
      null,
      bearer('A.expiredToken'),
      bearer('A.tamperedToken'),
      bearer('A.refreshToken'), // a refresh token where an access token goes
      bearer('B.accessToken'), // another user's valid token (valid for B: the operation runs as B)
      `bearer ${ref('A.accessToken')}`,
      `Bearer  ${ref('A.accessToken')}`,
      `Bearer ${ref('A.accessToken')}x`,
      `Bearer ${ref('A.accessToken')}, Bearer ${ref('B.accessToken')}`,
      `Basic ${Buffer.from('user:password').toString('base64')}`,
      'Bearer',
      'Bearer ',
      'Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.',
      'Bearer a.b.c',
    ),
    hostileString.filter((s) => s.length < 2000).map((s) => headerSafe(`Bearer ${s}`)),
  );
  return auth
    ? fc.oneof({ arbitrary: fc.constant(bearer('A.accessToken')), weight: 3 }, { arbitrary: wrong, weight: 2 })
    : fc.oneof({ arbitrary: fc.constant(null), weight: 3 }, { arbitrary: wrong, weight: 1 });
};

const CONTENT_TYPES = [
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json; charset=bogus-8',
  'application/json; charset="utf-8"; boundary=x',
  'application/vnd.api+json',
  'application/jsonx',
  'text/plain',
  'text/json',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  '',
  ';',
  'application/json, text/plain',
];
const contentType = (usual: string | null): fc.Arbitrary<string | null> =>
  fc.oneof({ arbitrary: fc.constant(usual), weight: 5 }, { arbitrary: fc.constantFrom(null, ...CONTENT_TYPES), weight: 2 });

const withContentType = (body: fc.Arbitrary<Body>, usual: string | null) => fc.tuple(body, contentType(usual)).map(([b, ct]) => ({ body: b, contentType: ct }));

/** Bodies for an operation: JSON from its schema when it takes one, else mostly none (with some it should ignore or refuse). */
function bodies(op: Operation): fc.Arbitrary<{ body: Body; contentType: string | null }> {
  const none = withContentType(fc.constant<Body>({ kind: 'none' }), null);
  const raw = withContentType(
    notJson.map((bytes): Body => ({ kind: 'raw', bytes })),
    'application/json',
  );
  if (!op.body) {
    const stray = withContentType(
      hostileValue.map((value): Body => ({ kind: 'json', value })),
      'application/json',
    );
    return fc.oneof({ arbitrary: none, weight: 6 }, { arbitrary: stray, weight: 1 }, { arbitrary: raw, weight: 1 });
  }
  const json = withContentType(
    jsonBody(op.body).map((value): Body => ({ kind: 'json', value })),
    'application/json',
  );
  return fc.oneof({ arbitrary: json, weight: 7 }, { arbitrary: raw, weight: 2 }, { arbitrary: none, weight: 1 });
}

/** Percent-encoding that does not decode: a router that decodes without care answers 500 to these. */
const MALFORMED = ['%', '%zz', '%E0%A4%A', '%C0%AF', '%ff', '%00', '%2e%2e', '..', '%2F', '%u0041', '%%'];

function piece(schema: JsonSchema, name: string): fc.Arbitrary<Piece> {
  return fc.oneof(
    { arbitrary: paramValue(schema, name).map((value) => ({ value, raw: false })), weight: 8 },
    { arbitrary: fc.constantFrom(...MALFORMED).map((value) => ({ value, raw: true })), weight: 1 },
  );
}

/** Path values are never empty: an empty segment is another URL (`/connections/`), not this operation. */
function pathPieces(op: Operation): fc.Arbitrary<Record<string, Piece>> {
  const params = op.parameters.filter((p) => p.in === 'path');
  return fc.record(Object.fromEntries(params.map((p) => [p.name, piece(p.schema, p.name).filter((v) => v.value !== '')])));
}

/** Declared parameters (absent, once, or repeated), unknown ones, and raw malformed ones, in any order. */
function queryPieces(op: Operation): fc.Arbitrary<Array<[string, Piece]>> {
  const declared = op.parameters
    .filter((p) => p.in === 'query')
    .map((p) =>
      fc
        .oneof(
          { arbitrary: fc.constant([]), weight: 1 },
          { arbitrary: piece(p.schema, p.name).map((v) => [v]), weight: 6 },
          { arbitrary: fc.array(piece(p.schema, p.name), { minLength: 2, maxLength: 3 }), weight: 1 }, // repeated: ?limit=1&limit=2
        )
        .map((values) => values.map((v): [string, Piece] => [p.name, v])),
    );
  const unknownPair = fc.tuple(
    fc.constantFrom('x', '__proto__', 'limit[]', 'q[$gt]', '', 'wait', 'after[]'),
    hostileString.filter((s) => s.length < 500),
  );
  const unknown = fc
    .oneof({ arbitrary: fc.constant([]), weight: 4 }, { arbitrary: fc.array(unknownPair, { minLength: 1, maxLength: 2 }), weight: 1 })
    .map((pairs) => pairs.map(([k, value]): [string, Piece] => [k, { value, raw: false }]));
  return fc
    .tuple(fc.tuple(...declared), unknown)
    .chain(([lists, extra]) => fc.shuffledSubarray([...lists.flat(), ...extra], { minLength: lists.flat().length + extra.length }));
}

/**
 * How many bytes the path and query of a case may take, percent-encoded. Node refuses a request head over
 * 16 KiB (431, no body) before any application code runs, so a longer one would test node:http, not the API;
 * repeated long parameters (?wait=<2049 é>&wait=<2049 é>) reached that. The budget keeps every case inside
 * what reaches the app.
 */
const URL_MAX_BYTES = 12_000;
const urlBytes = (path: Record<string, Piece>, query: Array<[string, Piece]>) =>
  [...Object.values(path), ...query.map(([, v]) => v)].reduce((n, p) => n + (p.raw ? p.value.length : percentEncode(p.value).length), 0) +
  query.reduce((n, [k]) => n + percentEncode(k).length + 2, 0);

function fuzzCase(op: Operation): fc.Arbitrary<FuzzCase> {
  return fc
    .record({ authorization: authorization(op.auth), body: bodies(op), path: pathPieces(op), query: queryPieces(op) })
    .filter(({ path, query }) => urlBytes(path, query) <= URL_MAX_BYTES)
    .map(({ authorization, body, path, query }) => ({ authorization, contentType: body.contentType, body: body.body, path, query }));
}

const MAX_CASE_CHARS = 20_000;

/**
 * encodeURIComponent over the UTF-8 bytes Node would send: unlike it, this does not throw on a lone
 * surrogate (which goes out as U+FFFD's bytes, as Buffer.from writes it).
 */
function percentEncode(s: string): string {
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9\-_.!~*'()]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The wire request for a case in the current world. */
function toWire(op: Operation, c: FuzzCase, world: World): WireRequest {
  const lookup = (key: string) => {
    const value = world.get(key);
    if (value === undefined) throw new Error(`no world value ${key}`);
    return value;
  };
  const encode = (p: Piece) => (p.raw ? p.value : percentEncode(resolveRefs(p.value, lookup) as string));
  let path = op.path.replace(/\{(\w+)\}/g, (_m, name: string) => encode(c.path[name]!));
  const query = c.query.map(([k, p]) => `${percentEncode(k)}=${encode(p)}`).join('&');
  if (query) path += `?${query}`;
  const headers: Record<string, string> = {};
  if (c.authorization !== null) headers.Authorization = headerSafe(resolveRefs(c.authorization, lookup) as string);
  if (c.contentType !== null) headers['Content-Type'] = c.contentType;
  let body: Buffer | undefined;
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- typed string, but JSON.stringify(undefined) is undefined
  if (c.body.kind === 'json') body = Buffer.from(JSON.stringify(resolveRefs(c.body.value, lookup)) ?? 'null');
  if (c.body.kind === 'raw') body = c.body.bytes;
  return { method: op.method, path, headers, body };
}

/**
 * Answers that legitimately change a record while refusing: a wrong reset code counts a try against the
 * newest code (5 tries burn it), which is the point of the limit.
 */
const REFUSALS_THAT_COUNT: Record<string, string[]> = { invalid_otp: ['reset_codes'] };

/**
 * Tables a successful case may change while every world value stays usable: mailbox entries (a send, a
 * server event, an ack, a clear: the mailboxes are refilled after), a reset code asked for, a 2FA secret set
 * up but not enabled (sign-in still needs no code).
 */
const HARMLESS_TABLES = new Set(['device_signals', 'signal_bodies', 'device_mailboxes', 'sent_signals', 'reset_codes', 'two_factor']);

function leavesWorldIntact(changed: ReturnType<typeof snapshotDiff>): boolean {
  const twoFactorEnabled = (changed.two_factor?.added ?? []).some((row) => (JSON.parse(row) as { enabled: number }).enabled !== 0);
  return !twoFactorEnabled && Object.keys(changed).every((table) => HARMLESS_TABLES.has(table));
}

/** Statuses answered that the OpenAPI document does not declare for that operation: `METHOD path` → status → an example. */
const undeclared = new Map<string, Map<number, string>>();
const tally: Array<{ op: string; cases: number; statuses: Record<number, number>; rebuilds: number; refills: number; ms: number }> = [];

const smtp = useSmtpServer();

/**
 * Web Push configured (a VAPID key of its own), so the push routes run their real code rather than the
 * deliberate 503 of a server without it; mail goes to a real SMTP server on loopback.
 */
// A fixed private key (any 32 bytes below the curve order will do): a generated one is 31 bytes one time in 256.
const VAPID = vapidKeysOf(Buffer.alloc(32, 3));

function fuzzEnv(): Record<string, string> {
  return { SMTP_URL: smtp.url, VAPID_PRIVATE_KEY: VAPID.privateKey, VAPID_SUBJECT: 'mailto:fuzz@example.org' };
}

afterAll(() => {
  const lines = tally.map(
    (r) => `${r.op}: ${r.cases} cases, ${r.rebuilds} world rebuilds, ${r.refills} mailbox refills, ${r.ms} ms, statuses ${JSON.stringify(r.statuses)}`,
  );
  console.log(`OpenAPI fuzz, ${RUNS} runs per operation${SEED === undefined ? '' : `, seed ${SEED}`}:\n${lines.join('\n')}`);
});

function label(op: Operation): string {
  return `${op.method} ${op.path}`;
}

describe('every operation of the OpenAPI document, fuzzed', () => {
  it('finds operations to fuzz in the document', () => {
    // The document lists every route; far fewer would mean the fuzz silently covers less.
    expect(operations.length).toBeGreaterThanOrEqual(40);
  });

  it.each(operations.map((op) => [label(op), op] as const))(
    '%s: no 5xx, the error shape on every refusal, no record changed by a refusal',
    async (name, op) => {
      const started = Date.now();
      const t: TestApp = makeTestApp({ env: fuzzEnv() });
      const wire = await Wire.listen(t.app);
      const db = new DbSnapshotter(join(t.dir, 'signalbox.db'));
      const statuses: Record<number, number> = {};
      let world = await buildWorld(t);
      let cases = 0;
      let rebuilds = 0;
      let refills = 0;
      try {
        await fc.assert(
          fc.asyncProperty(fuzzCase(op), async (c) => {
            cases++;
            const req = toWire(op, c, world);
            const before = db.take();
            const res: WireResponse = await wire.send(req);
            statuses[res.status] = (statuses[res.status] ?? 0) + 1;
            const shown = `${req.method} ${req.path.slice(0, 300)} → ${res.status} ${res.text.slice(0, 300)}`;
            if (!op.declared.has(res.status)) {
              const seen = undeclared.get(name) ?? new Map<number, string>();
              if (!seen.has(res.status)) seen.set(res.status, shown.slice(0, MAX_CASE_CHARS));
              undeclared.set(name, seen);
            }
            expect({ status: res.status, serverError: res.status >= 500, body: res.text.slice(0, 500) }).toEqual({
              status: res.status,
              serverError: false,
              body: res.text.slice(0, 500),
            });
            if (res.status >= 400) {
              expectApiError(res as unknown as Response, res.status);
              const code = (res.body as { error: { code: string } }).error.code;
              const diff = snapshotDiff(before, db.take());
              // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- diff is a plain record of tables; the ones a refusal may change are left out
              for (const table of REFUSALS_THAT_COUNT[code] ?? []) delete diff[table];
              expect({ refused: shown, changed: diff }).toEqual({ refused: shown, changed: {} });
            } else {
              const changed = snapshotDiff(before, db.take());
              if (Object.keys(changed).length === 0) return;
              if (leavesWorldIntact(changed)) {
                await refillMailboxes(t, world);
                refills++;
              } else {
                // It signed out, deleted the account, rotated a token, removed a connection...: the world's tokens
                // and users may no longer be what the generators assume, so the next case starts from a fresh one.
                world = await buildWorld(t);
                rebuilds++;
              }
            }
          }),
          { numRuns: RUNS, seed: SEED, endOnFailure: false },
        );
      } finally {
        tally.push({ op: name, cases, statuses, rebuilds, refills, ms: Date.now() - started });
        db.close();
        t.app.lifecycle.releasePolls();
        await wire.close();
        await t.close();
      }
    },
    Math.max(60_000, RUNS * 300),
  );

  it('answers only statuses the OpenAPI document declares for each operation', () => {
    const findings = Object.fromEntries([...undeclared].map(([op, seen]) => [op, Object.fromEntries(seen)]));
    expect(findings).toEqual({});
  });
});
