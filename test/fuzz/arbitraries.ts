import fc from 'fast-check';

/** The parts of JSON Schema (draft 2020-12, as zod's toJSONSchema writes it) the generators understand. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  pattern?: string;
  format?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
}

/**
 * A value of the fixture world named by its key (`A.username`, `A.refreshToken`, ...), written into a
 * generated case as this marker and swapped for the real value just before the request is sent: the world
 * is rebuilt during a run (a case that signs out or deletes its caller), so the generators cannot hold
 * the values themselves, and a counterexample stays readable.
 */
export const ref = (key: string) => `<<${key}>>`;
const REF = /^<<([A-Za-z0-9.]+)>>$/;

/** `value` with every world marker replaced by `lookup(key)`, at any depth. */
export function resolveRefs(value: unknown, lookup: (key: string) => string): unknown {
  if (typeof value === 'string') {
    const m = REF.exec(value);
    return m ? lookup(m[1]!) : value.replace(/<<([A-Za-z0-9.]+)>>/g, (_s, key: string) => lookup(key));
  }
  if (Array.isArray(value)) return value.map((v) => resolveRefs(v, lookup));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolveRefs(v, lookup)]));
  }
  return value;
}

/**
 * World values worth trying in a field of this name: a real username, password or token reaches the
 * code behind the validation (a lookup, a hash check, a rotation) instead of stopping at the schema.
 */
function worldValuesFor(name: string): string[] {
  const n = name.toLowerCase();
  if (n === 'username' || n === 'to') return [ref('A.username'), ref('B.username'), ref('C.username'), `@${ref('B.username')}`, ref('A.email')];
  if (n.includes('password')) return [ref('A.password'), ref('B.password')];
  if (n === 'email') return [ref('A.email'), ref('C.email')];
  if (n === 'refreshtoken') return [ref('A.refreshToken'), ref('A.accessToken'), ref('B.refreshToken')];
  if (n === 'todevice' || n === 'id') return [ref('A.deviceId'), ref('A2.deviceId'), ref('B.deviceId')];
  if (n === 'upto' || n === 'after') return [ref('A.cursor'), ref('B.cursor')];
  // Push endpoints name only loopback (refused: PUSH_ALLOW_PRIVATE is off), so a fuzz case never resolves or reaches a real host.
  if (n === 'endpoint') return ['https://127.0.0.1/push/abc', 'http://[::1]:9/x'];
  if (n === 'url') return ['https://127.0.0.1/_matrix/push/v1/notify'];
  return [];
}

/** Strings at and past the edges a schema names, plus the empty string. */
function boundaryStrings(s: JsonSchema): fc.Arbitrary<string> {
  const lengths = new Set<number>([0, 1]);
  for (const n of [s.minLength, s.maxLength]) if (n !== undefined) [n - 1, n, n + 1].filter((x) => x >= 0).forEach((x) => lengths.add(x));
  return fc.tuple(fc.constantFrom(...lengths), fc.constantFrom('a', 'é', '😀', ' ', '0')).map(([n, c]) => c.repeat(n));
}

/** A value the schema accepts (as far as JSON Schema can say), sometimes a world value for a field of that name. */
export function conforming(schema: JsonSchema, name = ''): fc.Arbitrary<unknown> {
  const own = conformingBySchema(schema);
  const world = worldValuesFor(name);
  return world.length > 0 ? fc.oneof({ arbitrary: fc.constantFrom(...world), weight: 2 }, { arbitrary: own, weight: 1 }) : own;
}

function conformingBySchema(s: JsonSchema): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const);
  if (s.enum) return fc.constantFrom(...s.enum);
  const alternatives = s.anyOf ?? s.oneOf;
  if (alternatives) return fc.oneof(...alternatives.map((a) => conformingBySchema(a)));
  const types = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
  if (types.length > 1) return fc.oneof(...types.map((type) => conformingBySchema({ ...s, type })));
  switch (types[0]) {
    case 'string':
      if (s.pattern) return fc.stringMatching(new RegExp(s.pattern));
      // Plain addresses most of the time (the server's check is stricter than RFC 5322, which fc.emailAddress follows).
      if (s.format === 'email') return fc.oneof(fc.stringMatching(/^[a-z0-9]{1,12}@example\.org$/), fc.emailAddress());
      return fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 40, 40), unit: 'grapheme' });
    case 'integer':
      return fc.integer({ min: s.minimum ?? -1000, max: s.maximum ?? 1000 });
    case 'number':
      return fc.double({ min: s.minimum ?? -1e6, max: s.maximum ?? 1e6, noNaN: true });
    case 'boolean':
      return fc.boolean();
    case 'null':
      return fc.constant(null);
    case 'array':
      return fc.array(s.items ? conformingBySchema(s.items) : fc.string(), { maxLength: 3 });
    case 'object':
      return conformingObject(s);
    default:
      return fc.jsonValue({ maxDepth: 2 });
  }
}

/** An object with every required property and any of the optional ones, each conforming. */
export function conformingObject(s: JsonSchema): fc.Arbitrary<Record<string, unknown>> {
  const props = s.properties ?? {};
  const required = new Set(s.required ?? []);
  const model = Object.fromEntries(Object.entries(props).map(([k, v]) => [k, conforming(v, k)]));
  return fc.record(model, { requiredKeys: [...required].filter((k) => k in props) });
}

/** Text no schema should like: empty, huge, control characters, lone surrogates, right-to-left marks, NUL. */
export const hostileString: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', ' ', '\u0000', '\t\n', '\u202e\u0041', '\ud800', '\udfff', 'null', 'undefined', '[object Object]', '__proto__', 'constructor'),
  fc.constantFrom('../../etc/passwd', '%00', '%zz', '<script>alert(1)</script>', "' OR 1=1 --", '{"$gt":""}', '$where'),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  // Past every field's limit and, for the largest, past the 64 KiB body limit (413) or SIGNAL_MAX_BYTES (16 KiB).
  fc.tuple(fc.constantFrom(257, 321, 2049, 16_384, 16_385, 65_536, 70_000), fc.constantFrom('a', 'é', '😀')).map(([n, c]) => c.repeat(n)),
);

/**
 * Deep nesting of arrays or objects, up to a few hundred levels: deeper values are sent as raw text
 * (`notJson`), since building and printing them here would recurse as deep.
 */
export const deepValue: fc.Arbitrary<unknown> = fc.tuple(fc.integer({ min: 20, max: 400 }), fc.boolean()).map(([depth, asObject]) => {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = asObject ? { a: v } : [v];
  return v;
});

/** A value of any JSON type, with the edges of each: the wrong type for most fields. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, -0),
  fc.constantFrom({}, [], [null], { $gt: '' }, { $ne: null }, JSON.parse('{"__proto__": {"admin": true}}') as unknown, { constructor: { prototype: {} } }),
  fc.jsonValue({ maxDepth: 3 }),
  deepValue,
);

/** Property names a schema does not declare, including prototype-pollution ones. */
const extraKey = fc.oneof(fc.constantFrom('isAdmin', '__proto__', 'constructor', 'prototype', '$where', 'userId', ''), fc.string({ maxLength: 12 }));

/**
 * A request body for `schema`: mostly valid-shaped with one to three fields mutated (a wrong type, an
 * edge value, null, removed, or an extra field), sometimes something else entirely (an array of the
 * valid body, a scalar, deep nesting, a random JSON value).
 */
export function jsonBody(schema: JsonSchema): fc.Arbitrary<unknown> {
  const variants = (schema.oneOf ?? schema.anyOf ?? [schema]).filter((v) => v.type === 'object' || v.properties);
  const shaped = fc.oneof(...variants.map((v) => conformingObject(v).map((o) => ({ o, v }))));
  const mutated = fc.tuple(shaped, fc.array(fc.tuple(fc.nat(), fc.nat(6), hostileValue, extraKey), { minLength: 1, maxLength: 3 })).map(([{ o, v }, edits]) => {
    const body: Record<string, unknown> = { ...o };
    const keys = Object.keys(v.properties ?? {});
    for (const [pick, how, value, extra] of edits) {
      const key = keys.length > 0 ? keys[pick % keys.length]! : extra;
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- the mutation is a field missing from a JSON body, a plain object
      if (how === 0) delete body[key];
      else if (how === 1) body[key] = null;
      else if (how === 2) Object.defineProperty(body, extra, { value, enumerable: true, configurable: true, writable: true });
      else if (how === 3) body[key] = [body[key]];
      else body[key] = value;
    }
    return body;
  });
  const edgeStrings = fc.tuple(shaped, fc.nat()).chain(([{ o, v }, pick]) => {
    const entries = Object.entries(v.properties ?? {}).filter(([, p]) => p.type === 'string' || p.anyOf);
    if (entries.length === 0) return fc.constant(o);
    const [key, prop] = entries[pick % entries.length]!;
    return boundaryStrings(prop).map((s) => ({ ...o, [key]: s }));
  });
  return fc.oneof(
    { arbitrary: shaped.map(({ o }) => o), weight: 2 },
    { arbitrary: mutated, weight: 5 },
    { arbitrary: edgeStrings, weight: 2 },
    { arbitrary: shaped.map(({ o }) => [o]), weight: 1 },
    { arbitrary: hostileValue, weight: 1 },
  );
}

/** Bytes that are not a JSON document (or not the UTF-8 they claim to be). */
export const notJson: fc.Arbitrary<Buffer> = fc.oneof(
  fc
    .constantFrom(
      '{"a":',
      "{'username': 'x'}",
      '{"a": 1,}',
      'undefined',
      '{} {}',
      'NaN',
      '{"a": NaN}',
      'username=a&password=b',
      '<xml/>',
      ' ',
      '\u0000',
      '{"a":"\\ud800"}',
    )
    .map((s) => Buffer.from(s)),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.string({ maxLength: 40 }).map((s) => Buffer.from(s)),
  // Nesting past what a recursive parser survives, still under the 64 KiB limit.
  fc.integer({ min: 1000, max: 30_000 }).map((d) => Buffer.from('['.repeat(d) + ']'.repeat(d))),
  fc.constant(Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d])), // a UTF-8 byte-order mark before {}
  fc.constant(Buffer.from([0xff, 0xfe, 0x7b, 0x00, 0x7d, 0x00])), // UTF-16LE {}
);

/** A query or path parameter value: a conforming one, one at or past its edges, a hostile one, or a world value. */
export function paramValue(schema: JsonSchema, name: string): fc.Arbitrary<string> {
  // A digit-pattern string or (as the document now describes a parsed query value) an integer: its bounds
  // and the usual suspects around them, as text.
  const numeric = /\\d/.test(schema.pattern ?? '') || schema.type === 'integer' || schema.type === 'number';
  const bounds = [schema.minimum, schema.maximum].filter((n): n is number => n !== undefined).flatMap((n) => [n - 1, n, n + 1].map(String));
  const edges = numeric
    ? fc.constantFrom(
        ...bounds,
        '0',
        '1',
        '20',
        '30',
        '31',
        '49',
        '50',
        '51',
        '99',
        '100',
        '999',
        '1000',
        '-1',
        '1.5',
        '1e3',
        '0x10',
        ' 1',
        '+5',
        'NaN',
        'Infinity',
        '01',
        '',
      )
    : boundaryStrings(schema);
  return fc.oneof(
    { arbitrary: conforming(schema, name).map(String), weight: 3 },
    { arbitrary: edges, weight: 2 },
    { arbitrary: hostileString.filter((s) => s.length < 3000), weight: 2 },
  );
}
