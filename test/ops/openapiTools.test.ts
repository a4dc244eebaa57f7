import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ERRORS } from '../../app/core/errors.js';
import { StoreUnavailableError, type Store } from '../../app/store/types.js';
import { repoRoot } from '../../scripts/gen-api-docs.js';
import { writeOpenApi } from '../../scripts/write-openapi.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';

const run = promisify(execFile);

interface Operation {
  operationId: string;
  security: Array<Record<string, string[]>>;
  parameters: Array<{ name: string; in: string; schema: Record<string, unknown> }>;
  requestBody?: unknown;
  responses: Record<string, { headers?: Record<string, unknown> }>;
}
interface Document {
  servers?: Array<{ url: string }>;
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, { enum?: string[] }> };
}

let dir: string;
let file: string;
let doc: Document;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'signalbox-openapi-'));
  file = await writeOpenApi(join(dir, 'openapi.json'));
  doc = JSON.parse(readFileSync(file, 'utf8')) as Document;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const operations = () => Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => ({ method, path, op, name: `${method} ${path}` })));

/** Runs a tool of node_modules/.bin under this Node, offline: no telemetry, no update check. */
async function tool(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };
  try {
    const { stdout, stderr } = await run(process.execPath, [join(repoRoot(), 'node_modules', '.bin', bin), ...args], { env, maxBuffer: 64 << 20 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('the OpenAPI document, given to the tools API users run', () => {
  it('passes `redocly lint` with the recommended ruleset; its only warnings are operations no 4xx can reach', async () => {
    const { code, stdout, stderr } = await tool('redocly', ['lint', file, '--format=json']);
    const report = JSON.parse(stdout) as { totals: { errors: number }; problems: Array<{ ruleId: string; location: Array<{ pointer: string }> }> };
    expect({ code, errors: report.totals.errors, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, errors: 0, stderr: '' });
    // operation-4xx-response asks every operation for a 4xx; an operation without input or token cannot
    // answer one (the body parser only reads POST, PUT and DELETE), and listing one anyway would be false.
    const others = report.problems.filter((p) => p.ruleId !== 'operation-4xx-response').map((p) => `${p.ruleId} at ${p.location[0]?.pointer}`);
    expect(others).toEqual([]);
    const without4xx = operations()
      .filter(({ op }) => !Object.keys(op.responses).some((s) => s.startsWith('4')))
      .map(({ op, name }) => ({ name, input: op.parameters.length > 0 || op.requestBody !== undefined, token: op.security.length > 0 }));
    expect(without4xx.filter((o) => o.input || o.token)).toEqual([]);
  }, 60_000);

  it('becomes TypeScript with openapi-typescript: numeric query parameters are numbers, error codes a union, Retry-After typed', async () => {
    const out = join(dir, 'api.d.ts');
    const { code, stderr } = await tool('openapi-typescript', [file, '-o', out]);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const types = readFileSync(out, 'utf8');
    expect(types).toMatch(/\bwait\?: number;/);
    expect(types).toMatch(/\blimit\?: number;/);
    expect(types).toContain(
      `ErrorCode: ${Object.keys(ERRORS)
        .map((c) => JSON.stringify(c))
        .join(' | ')};`,
    );
    expect(types).toContain('"Retry-After": components["headers"]["RetryAfter"];');
    // The generated file is valid TypeScript on its own.
    const tsc = await tool('tsc', ['--noEmit', '--strict', '--skipLibCheck', '--target', 'ES2022', out]);
    expect({ code: tsc.code, output: tsc.stdout }).toEqual({ code: 0, output: '' });
  }, 60_000);
});

describe('the OpenAPI document', () => {
  it('names a server: the root of the origin it is fetched from', () => {
    expect(doc.servers).toEqual([expect.objectContaining({ url: '/' })]);
  });

  it('documents each path once, without a trailing slash; GET /connections/ is still served', async () => {
    expect(Object.keys(doc.paths).filter((p) => p.length > 1 && p.endsWith('/'))).toEqual([]);
    expect(doc.paths['/connections']?.get).toBeDefined();
    const t = makeTestApp();
    try {
      const user = await registerUser(t);
      for (const url of ['/connections', '/connections/']) expect({ url, status: (await t.http.get(url).set(bearer(user))).status }).toEqual({ url, status: 200 });
    } finally {
      await t.close();
    }
  });

  it('gives every operation a camelCase operationId, unique, and the explicit ones where derived ones read badly', () => {
    const ids = operations().map(({ op }) => op.operationId);
    expect(ids.filter((id) => !/^[a-z]+(?:[A-Z0-9][a-z0-9]*)*$/.test(id))).toEqual([]);
    expect(new Set(ids).size).toBe(ids.length);
    expect(doc.paths['/openapi.json']?.get?.operationId).toBe('getOpenApiDocument');
    expect(doc.paths['/connections']?.get?.operationId).toBe('getConnections');
  });

  it('types numeric query parameters as integers with the bounds the server enforces', () => {
    const param = (path: string, name: string) => doc.paths[path]?.get?.parameters.find((p) => p.name === name)?.schema;
    expect(param('/signaling/poll', 'wait')).toMatchObject({ type: 'integer', minimum: 0, maximum: 30, default: 0 });
    expect(param('/users/search', 'limit')).toMatchObject({ type: 'integer', minimum: 1, maximum: 50, default: 20 });
  });

  it('has an ErrorCode enum of every code of core/errors.ts, used by the error schema', () => {
    expect(doc.components.schemas.ErrorCode?.enum).toEqual(Object.keys(ERRORS));
    expect(JSON.stringify(doc.components.schemas.Error)).toContain('"code":{"$ref":"#/components/schemas/ErrorCode"}');
  });

  it('describes Retry-After on every 429 and 503 response', () => {
    const missing = operations().flatMap(({ op, name }) =>
      ['429', '503'].filter((s) => op.responses[s] && !op.responses[s].headers?.['Retry-After']).map((s) => `${name} ${s}`),
    );
    expect(missing).toEqual([]);
  });
});

/**
 * The statuses the server really answers, provoked on every operation of the document, are documented
 * there. A path parameter gets a value that names nothing (the refusal comes before any lookup).
 */
describe('every status a request can provoke is documented on its operation', () => {
  const LIMIT = 1024;
  let t: TestApp;
  let storeDown = false;
  /** The real store, except that reading a session fails as if the database were gone, while `storeDown`. */
  const faulty = (store: Store): Store => {
    const sessions = new Proxy(store.sessions, {
      get(target, prop) {
        if (prop === 'findById' && storeDown) return () => Promise.reject(new StoreUnavailableError());
        const value: unknown = Reflect.get(target, prop);
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
    return new Proxy(store, { get: (target, prop) => (prop === 'sessions' ? sessions : Reflect.get(target, prop)) });
  };
  beforeAll(() => {
    t = makeTestApp({ env: { MAX_BODY_BYTES: String(LIMIT) }, wrapStore: faulty });
  });
  afterAll(async () => t.close());

  const url = (path: string) => path.replace(/\{(\w+)\}/g, 'nothing_here');
  const send = (method: string, path: string) => (t.http as unknown as Record<string, (u: string) => import('supertest').Test>)[method]!(url(path));
  const withBody = () => operations().filter(({ method }) => ['post', 'put', 'delete'].includes(method));
  const authenticated = () => operations().filter(({ op }) => op.security.length > 0);

  /** Each operation's answer to `request`, beside whether its status is documented; all expected as `status`. */
  async function answers(ops: ReturnType<typeof operations>, status: number, request: (o: ReturnType<typeof operations>[number]) => import('supertest').Test) {
    const seen = [];
    for (const o of ops) {
      const res = await request(o);
      seen.push({ name: o.name, status: res.status, documented: res.status in o.op.responses });
    }
    expect(seen.length).toBeGreaterThan(5);
    expect(seen.filter((s) => s.status !== status || !s.documented)).toEqual([]);
  }

  it('400 for a body that is not JSON, on every POST, PUT and DELETE', () =>
    answers(withBody(), 400, (o) => send(o.method, o.path).set('Content-Type', 'application/json').send('{"not json')));

  it('415 for a body of another type, on every POST, PUT and DELETE', () =>
    answers(withBody(), 415, (o) => send(o.method, o.path).set('Content-Type', 'text/plain').send('hello')));

  it('413 for a body over MAX_BODY_BYTES, on every POST, PUT and DELETE', () =>
    answers(withBody(), 413, (o) => send(o.method, o.path).send({ padding: 'x'.repeat(LIMIT * 2) })));

  it('401 without a token, on every authenticated operation', () => answers(authenticated(), 401, (o) => send(o.method, o.path)));

  it('503 with Retry-After while the store cannot be reached, on every authenticated operation', async () => {
    const user = await registerUser(t);
    storeDown = true;
    try {
      await answers(authenticated(), 503, (o) => send(o.method, o.path).set(bearer(user)));
      const res = await t.http.get('/users/me').set(bearer(user));
      expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    } finally {
      storeDown = false;
    }
  });
});
