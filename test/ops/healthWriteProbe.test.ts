import { describe, expect, it } from '@jest/globals';
import { sharedWriteProbe, WRITE_PROBE_INTERVAL_MS } from '../../app/ops/healthProbe.js';
import { VERSION } from '../../app/lib/version.js';
import type { Store, WriteFailure } from '../../app/store/types.js';
import { useTestApp } from '../helpers/perTest.js';

/** The real store, whose write probe answers `probe.failure` (what SQLite's would on a full disk or read-only file) and is counted. */
const probe: { failure: WriteFailure | null; calls: number } = { failure: null, calls: 0 };
const probed = (store: Store): Store => ({
  ...store,
  probeWrite: async () => {
    probe.calls++;
    if (probe.failure === null) return store.probeWrite();
    return probe.failure;
  },
});

const t = useTestApp(() => {
  probe.failure = null;
  probe.calls = 0;
  return { wrapStore: probed };
});

describe('GET /health write probe', () => {
  it('answers 503 degraded with the reason, in a body that is also the error shape, when the store cannot write', async () => {
    probe.failure = 'disk_full';
    const res = await t.http.get('/health');
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toMatch(/^\d+$/);
    expect(res.body).toEqual({
      status: 'degraded',
      reason: 'disk_full',
      store: 'sqlite',
      version: VERSION,
      uptimeSeconds: 0,
      error: { code: 'unavailable', message: expect.stringContaining('disk is full') },
    });
  });

  it('really writes through the store: a healthy one answers ok', async () => {
    const res = await t.http.get('/health');
    expect(res.status).toBe(200);
    expect(res.body.status).toBe('ok');
    expect(probe.calls).toBe(1);
  });

  it('probes at most once per interval, and says ok again once a later probe succeeds', async () => {
    probe.failure = 'read_only';
    expect((await t.http.get('/health')).body.reason).toBe('read_only');
    probe.failure = null;
    // Within the interval the remembered answer stands.
    t.clock.advance(WRITE_PROBE_INTERVAL_MS / 1000 - 1);
    expect((await t.http.get('/health')).status).toBe(503);
    expect(probe.calls).toBe(1);
    t.clock.advance(1);
    expect((await t.http.get('/health')).status).toBe(200);
    expect(probe.calls).toBe(2);
  });
});

describe('GET /health in the OpenAPI document', () => {
  it('documents the degraded body beside the error shape on 503, with Retry-After', async () => {
    const doc = (await t.http.get('/openapi.json')).body as {
      paths: Record<
        string,
        { get: { responses: Record<string, { headers?: Record<string, unknown>; content: Record<string, { schema: { anyOf?: Array<Record<string, unknown>> } }> }> } }
      >;
    };
    const unavailable = doc.paths['/health']!.get.responses['503']!;
    expect(unavailable.headers?.['Retry-After']).toBeDefined();
    const variants = unavailable.content['application/json']!.schema.anyOf!;
    expect(variants).toContainEqual({ $ref: '#/components/schemas/Error' });
    const degraded = variants.find((v) => v.properties) as { properties: Record<string, Record<string, unknown>>; required: string[] };
    expect(degraded.properties.status).toMatchObject({ const: 'degraded' });
    expect(degraded.properties.reason).toMatchObject({ enum: ['disk_full', 'read_only', 'io_error', 'write_failed'] });
    expect(degraded.required).toEqual(expect.arrayContaining(['status', 'reason', 'error']));
  });
});

describe('sharedWriteProbe', () => {
  it('lets concurrent callers share one probe', async () => {
    let calls = 0;
    let finish!: (f: WriteFailure | null) => void;
    const store = {
      probeWrite: () => {
        calls++;
        return new Promise<WriteFailure | null>((resolve) => (finish = resolve));
      },
    };
    const check = sharedWriteProbe(store, () => 1000);
    const answers = Promise.all([check(), check(), check()]);
    finish('io_error');
    expect(await answers).toEqual(['io_error', 'io_error', 'io_error']);
    expect(calls).toBe(1);
  });

  it('does not remember a probe that rejected (an unreachable store): the next call probes again', async () => {
    let calls = 0;
    const store = {
      probeWrite: async () => {
        calls++;
        if (calls === 1) throw new Error('unreachable');
        return null;
      },
    };
    const check = sharedWriteProbe(store, () => 1000);
    await expect(check()).rejects.toThrow('unreachable');
    expect(await check()).toBeNull();
    expect(calls).toBe(2);
  });
});
