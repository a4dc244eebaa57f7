import { describe, expect, it } from '@jest/globals';
import type { IncomingMessage } from 'node:http';
import { PassThrough } from 'node:stream';
import * as coBody from 'co-body';
import { AppError } from '../../app/core/errors.js';
import { leanBodyLength, parseJsonStrict, readJsonBody } from '../../app/http/leanBody.js';

/**
 * app/http/leanBody.ts against the reader koa-body itself calls (co-body's `json`, with the options jsonBody
 * gives koa-body: utf-8, `jsonStrict`, the byte limit), on the same bytes. Through a server the request's bytes
 * are framed by Content-Length (test/signaling/leanSend.test.ts compares whole answers there); here a stream
 * can also deliver more than it declared, which only a direct test can show.
 */
const LIMIT = 64;

/** A request stream declaring `declared` bytes (Content-Length) that delivers `chunks` and ends. */
function requestOf(declared: number, chunks: Array<string | Buffer>): IncomingMessage {
  const stream = new PassThrough();
  Object.assign(stream, { headers: { 'content-type': 'application/json', 'content-length': String(declared) } });
  setImmediate(() => {
    for (const chunk of chunks) stream.write(chunk);
    stream.end();
  });
  return stream as unknown as IncomingMessage;
}

/** What jsonBody answers for co-body's outcome (its onError: 413 is payload_too_large, any other failure invalid_json). */
async function koaBodyOutcome(declared: number, chunks: Array<string | Buffer>): Promise<unknown> {
  try {
    return { value: await coBody.json(requestOf(declared, chunks), { encoding: 'utf-8', limit: LIMIT, strict: true }) };
  } catch (err) {
    return { error: (err as { status?: number }).status === 413 ? 'payload_too_large' : 'invalid_json' };
  }
}

async function leanOutcome(declared: number, chunks: Array<string | Buffer>): Promise<unknown> {
  try {
    return { value: await readJsonBody(requestOf(declared, chunks), declared, LIMIT) };
  } catch (err) {
    return { error: err instanceof AppError ? err.code : String(err) };
  }
}

const bytes = (chunks: Array<string | Buffer>) => chunks.reduce((n, c) => n + Buffer.byteLength(c), 0);

describe('readJsonBody', () => {
  const cases: Array<[string, number | null, Array<string | Buffer>, unknown]> = [
    ['an object', null, ['{"a":"é"}'], { value: { a: 'é' } }],
    [
      'a character split across chunks',
      null,
      [Buffer.from('{"a":"'), Buffer.from('é').subarray(0, 1), Buffer.concat([Buffer.from('é').subarray(1), Buffer.from('"}')])],
      { value: { a: 'é' } },
    ],
    ['an array', null, ['[1]'], { value: [1] }],
    ['a byte-order mark', null, [Buffer.from([0xef, 0xbb, 0xbf]), '{}'], { value: {} }],
    ['a string', null, ['"x"'], { error: 'invalid_json' }],
    ['blanks', null, ['   '], { error: 'invalid_json' }],
    ['a __proto__ key', null, ['{"__proto__":{}}'], { error: 'invalid_json' }],
    ['shorter than declared', 20, ['{"a":1}'], { error: 'invalid_json' }],
    ['longer than declared, within the limit', 3, ['{"a":1}'], { error: 'invalid_json' }],
    ['longer than declared and than the limit', 3, [`{"a":"${'x'.repeat(LIMIT)}"}`], { error: 'payload_too_large' }],
  ];
  for (const [label, declared, chunks, expected] of cases) {
    it(`answers ${label} as koa-body does`, async () => {
      const length = declared ?? bytes(chunks);
      const lean = await leanOutcome(length, chunks);
      expect(lean).toEqual(await koaBodyOutcome(length, chunks));
      expect(lean).toEqual(expected);
    });
  }

  it('keeps no byte past the declared length and stops listening past the limit', async () => {
    const req = requestOf(3, ['{}', 'x'.repeat(LIMIT * 4)]);
    await expect(readJsonBody(req, 3, LIMIT)).rejects.toMatchObject({ code: 'payload_too_large' });
    expect(req.listenerCount('data')).toBe(0);
  });

  it('answers a client gone mid-body invalid_json', async () => {
    const stream = new PassThrough();
    const reading = readJsonBody(stream as unknown as IncomingMessage, 10, LIMIT);
    stream.write('{"a"');
    stream.destroy();
    await expect(reading).rejects.toMatchObject({ code: 'invalid_json' });
  });
});

describe('parseJsonStrict', () => {
  it('finds a __proto__ key at any depth without recursing', () => {
    const deep = `${'['.repeat(20_000)}{"\\u005f_proto__":1}${']'.repeat(20_000)}`;
    expect(() => parseJsonStrict(deep)).toThrow(AppError);
    expect(parseJsonStrict(`${'['.repeat(20_000)}{"proto":"__proto__"}${']'.repeat(20_000)}`)).toBeInstanceOf(Array);
  });
});

describe('leanBodyLength', () => {
  const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;
  const json = { 'content-type': 'application/json', 'content-length': '10' };

  it('takes application/json, with or without charset=utf-8, with a plain length within the limit', () => {
    expect(leanBodyLength(req(json), LIMIT)).toBe(10);
    expect(leanBodyLength(req({ ...json, 'content-type': 'Application/JSON; charset=UTF-8' }), LIMIT)).toBe(10);
    expect(leanBodyLength(req({ ...json, 'content-length': '0' }), LIMIT)).toBe(0);
    expect(leanBodyLength(req({ ...json, 'content-length': String(LIMIT) }), LIMIT)).toBe(LIMIT);
  });

  it('leaves everything else to Koa', () => {
    const others: Array<Record<string, string>> = [
      { ...json, 'content-length': String(LIMIT + 1) },
      { ...json, 'content-length': '010' },
      { 'content-type': 'application/json' },
      { ...json, 'transfer-encoding': 'chunked' },
      { ...json, 'content-encoding': 'gzip' },
      { ...json, 'content-type': 'text/plain' },
      { ...json, 'content-type': 'application/json; charset=latin1' },
      { ...json, 'content-type': 'application/vnd.api+json' },
      { 'content-length': '10' },
    ];
    for (const headers of others) expect({ headers, length: leanBodyLength(req(headers), LIMIT) }).toEqual({ headers, length: null });
  });
});
