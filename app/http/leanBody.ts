import type { IncomingMessage } from 'node:http';
import { invalidJson, payloadTooLarge, type AppError } from '../core/errors.js';

/**
 * A POST's JSON body read outside Koa for the lean routes (http/lean.ts), giving what `jsonBody` (koa-body,
 * `jsonStrict`) gives for the requests the lean routes take, and the same errors. Which requests those are is
 * decided from the headers alone, before a byte is read (`leanBodyLength`); Koa answers every other one as it
 * always did (415, 413, a chunked or compressed body). docs/architecture.md, "The path of GET /signaling/poll".
 */

/** The content types taken here; koa-body reads the body as UTF-8 whatever the charset says. */
const JSON_TYPES = new Set(['application/json', 'application/json; charset=utf-8']);
const DECIMAL_LENGTH = /^(?:0|[1-9]\d{0,8})$/;

/**
 * The declared length of a body the lean route can read exactly as koa-body would, or null to leave the
 * request to Koa: `application/json` (optionally `; charset=utf-8`), a plain `Content-Length` within
 * `limit`, no `Transfer-Encoding` and no `Content-Encoding` (koa-body inflates; the lean route does not).
 */
export function leanBodyLength(req: IncomingMessage, limit: number): number | null {
  const { headers } = req;
  if (headers['transfer-encoding'] !== undefined || headers['content-encoding'] !== undefined) return null;
  const type = headers['content-type'];
  if (type === undefined || !JSON_TYPES.has(type.toLowerCase())) return null;
  const declared = headers['content-length'];
  if (declared === undefined || !DECIMAL_LENGTH.test(declared)) return null;
  const length = Number(declared);
  return length <= limit ? length : null;
}

/** co-body's `jsonStrict` rule: only an object or an array at the top level. */
const STRICT_JSON_START = /^[\x20\x09\x0a\x0d]*(\[|\{)/;
/** @hapi/bourne's sign (co-body parses with it) that the text may carry a `__proto__` key, escaped or not. */
const PROTO_KEY_TEXT = /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/;

/** Whether any object in `root` has an own `__proto__` key; without recursion, as a body may nest deeply. */
function hasProtoKey(root: object): boolean {
  const pending: object[] = [root];
  for (let node = pending.pop(); node !== undefined; node = pending.pop()) {
    if (Object.prototype.hasOwnProperty.call(node, '__proto__')) return true;
    for (const value of Object.values(node)) if (value !== null && typeof value === 'object') pending.push(value as object);
  }
  return false;
}

/**
 * The body's text as koa-body parses it: a leading byte-order mark dropped (its UTF-8 decoder does), empty
 * as `{}`, a top-level value other than an object or array refused, and a `__proto__` key anywhere refused
 * (koa-body's parser rejects it). Any refusal is what `jsonBody` answers: 400 invalid_json.
 */
export function parseJsonStrict(raw: string): unknown {
  const text = raw.charCodeAt(0) === 0xfeff ? raw.slice(1) : raw;
  if (text === '') return {};
  if (!STRICT_JSON_START.test(text)) throw invalidJson();
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidJson();
  }
  if (PROTO_KEY_TEXT.test(text) && hasProtoKey(value as object)) throw invalidJson();
  return value;
}

/**
 * Reads the `length` bytes `leanBodyLength` allowed and parses them, keeping no byte past `length` (a hard cap)
 * and reading none past `limit`, with koa-body's reader's answers (raw-body): more than `limit` bytes is 413
 * payload_too_large at once; a body that ends short of `length` (the client went away) or runs past it is 400
 * invalid_json. node:http frames a body by its Content-Length, so only the first can happen through a server.
 * An empty body is `{}`, as `jsonBody` hands it on.
 */
export function readJsonBody(req: IncomingMessage, length: number, limit: number): Promise<unknown> {
  if (length === 0) return Promise.resolve({});
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const stop = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onGone);
      req.off('close', onGone);
    };
    const fail = (error: AppError) => {
      stop();
      reject(error);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) fail(payloadTooLarge(limit));
      else if (received <= length) chunks.push(chunk);
    };
    const onEnd = () => {
      if (received !== length) {
        fail(invalidJson());
        return;
      }
      stop();
      try {
        resolve(parseJsonStrict((chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received)).toString('utf8')));
      } catch (err) {
        reject(err instanceof Error ? err : invalidJson()); // parseJsonStrict throws only invalid_json
      }
    };
    const onGone = () => fail(invalidJson());
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onGone);
    req.on('close', onGone);
  });
}
