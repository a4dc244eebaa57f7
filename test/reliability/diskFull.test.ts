import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { writeTestSecrets } from '../helpers/run.js';
import { mountSmallFs, type SmallFs } from './helpers/diskFs.js';
import { seedThreeUsers, type Device } from './helpers/seedServer.js';
import { execFileSync, spawn } from 'node:child_process';
import { cleanUp, MAIN_JS, startServer, stopGracefully, type ServerProcess } from './helpers/serverProcess.js';

// The built server on a small file system of its own (helpers/diskFs.ts), filled to the last byte while
// it serves: sends are refused 503 with Retry-After (never 500), polls (with after=, whose
// acknowledgement cannot be written) still hand out what is stored, /health says degraded, and once the
// space is back everything works again with nothing stored lost and the database intact. Then a start
// on the file system made read-only stops at once with one line and exit 1.

const FS_MEGABYTES = 24;
/** The largest payload a send takes (SIGNAL_MAX_BYTES default): each refused send tries to write a lot. */
const BIG_PAYLOAD = 'x'.repeat(16 * 1024 - 32); // with its number, just under SIGNAL_MAX_BYTES
/** Sends tried on the full disk; each either stored (202, delivered later) or refused (503). */
const SENDS_WHILE_FULL = 40;
/** The write probe answers at most every 5 s (app/ops/healthProbe.ts): wait a little longer than that for a change. */
const HEALTH_CHANGE_WITHIN_MS = 8_000;
const SIGTERM_BOUND_MS = 10_000;

interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

async function api(server: ServerProcess, method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  const res = await fetch(`${server.url}${path}`, {
    method,
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

const send = (server: ServerProcess, from: Device, to: Device, payload: string) =>
  api(server, 'POST', '/signaling/send', from.accessToken, { to: to.username, type: 'custom', payload });

/** An unlabelled metric's value from GET /metrics. */
async function metric(server: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

interface Polled {
  ids: string[];
  cursor: string;
}

/** Polls (wait=0) from `after` until an answer is empty: every id handed out, and the last cursor. */
async function pollAll(server: ServerProcess, device: Device, after?: string): Promise<Polled> {
  const ids: string[] = [];
  let cursor = after;
  for (;;) {
    const res = await api(server, 'GET', `/signaling/poll${cursor ? `?after=${encodeURIComponent(cursor)}` : ''}`, device.accessToken);
    if (res.status !== 200) throw new Error(`poll answered ${res.status} ${JSON.stringify(res.body)}`);
    const signals = res.body.signals as Array<{ id: string }>;
    const next = res.body.cursor as string;
    if (signals.length === 0) return { ids, cursor: next };
    ids.push(...signals.map((s) => s.id));
    cursor = next;
  }
}

/** GET /health until its status is `status` (the probe is remembered for up to 5 s); the last answer. */
async function healthBecomes(server: ServerProcess, status: number): Promise<Answer> {
  const deadline = Date.now() + HEALTH_CHANGE_WITHIN_MS;
  for (;;) {
    const res = await api(server, 'GET', '/health');
    if (res.status === status || Date.now() > deadline) return res;
    await new Promise((r) => setTimeout(r, 250));
  }
}

let disk: SmallFs | undefined;
let server: ServerProcess;
let dataDir: string;
let alice: Device;
let bob: Device;
/** Signed in but silent until the disk is full: her first poll then has lastSeen (user and device) to write. */
let carol: Device;

beforeAll(async () => {
  disk = mountSmallFs(FS_MEGABYTES);
  dataDir = join(disk.dir, 'data');
  mkdirSync(dataDir, { mode: 0o700 });
  writeTestSecrets(dataDir);
  ({ alice, bob, carol } = await seedThreeUsers(dataDir));
  server = await startServer({ dataDir });

  console.log(`diskFull: DATA_DIR on a ${FS_MEGABYTES} MiB ${disk.kind} at ${disk.dir}`);
});

afterAll(async () => {
  try {
    await cleanUp();
  } finally {
    disk?.release();
  }
});

describe('a full disk under the running server', () => {
  const accepted: string[] = [];
  let firstCursor: string;

  it('stores and delivers normally before the disk fills', async () => {
    for (let i = 0; i < 5; i++) {
      const res = await send(server, alice, bob, `before ${i}`);
      expect(res.status).toBe(202);
      accepted.push(res.body.id as string);
    }
    // bob reads them and does not acknowledge yet: the next poll's after= must be written on a full disk.
    const res = await api(server, 'GET', '/signaling/poll', bob.accessToken);
    expect((res.body.signals as Array<{ id: string }>).map((s) => s.id)).toEqual(accepted);
    firstCursor = res.body.cursor as string;
    // Three more that bob has not read yet: a poll on the full disk must still hand them out.
    for (let i = 0; i < 3; i++) {
      const unread = await send(server, alice, bob, `unread ${i}`);
      expect(unread.status).toBe(202);
      accepted.push(unread.body.id as string);
    }
    expect((await api(server, 'GET', '/health')).status).toBe(200);
  });

  it('refuses sends with 503 unavailable and Retry-After, never 500, once the disk is full', async () => {
    const filled = disk!.fill();
    const statuses = new Map<number, number>();
    let refusal: Answer | undefined;
    for (let i = 0; i < SENDS_WHILE_FULL; i++) {
      const res = await send(server, alice, bob, `${i} ${BIG_PAYLOAD}`);
      statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      if (res.status === 202) accepted.push(res.body.id as string);
      if (res.status === 503) refusal ??= res;
    }

    console.log(`diskFull: filler took ${filled} bytes; ${SENDS_WHILE_FULL} sends of 16 KiB on the full disk answered ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect([...statuses.keys()].every((s) => s === 202 || s === 503)).toBe(true);
    expect(statuses.get(503) ?? 0).toBeGreaterThan(0);
    expect(refusal!.body).toEqual({ error: { code: 'unavailable', message: expect.any(String) } });
    expect(refusal!.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('still answers polls, with after= too, with everything stored past the cursor', async () => {
    const polled = await pollAll(server, bob, firstCursor);
    // The five read before are acknowledged by the cursor (not handed out again); the rest all are.
    expect(polled.ids).toEqual(accepted.slice(5));
    expect(polled.ids.length).toBeGreaterThanOrEqual(3);
    const acknowledged = await metric(server, 'signalbox_signals_acknowledged_total');

    console.log(`diskFull: ${polled.ids.length} signals polled on the full disk; acknowledgements written meanwhile: ${acknowledged}`);
    const plain = await api(server, 'GET', '/signaling/poll', bob.accessToken);
    expect(plain.status).toBe(200);
    // A device's first poll writes its lastSeen (and its user's): that failing must not fail the poll.
    const first = await api(server, 'GET', '/signaling/poll', carol.accessToken);
    expect(first.status).toBe(200);
  });

  it('reports degraded (disk_full) on GET /health', async () => {
    const res = await healthBecomes(server, 503);

    console.log(`diskFull: /health while full: ${res.status} ${JSON.stringify(res.body)}`);
    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({ status: 'degraded', reason: 'disk_full', error: { code: 'unavailable' } });
    expect(res.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('works again once the space is back, with nothing stored lost', async () => {
    disk!.unfill();
    expect((await healthBecomes(server, 200)).status).toBe(200);
    const after = await send(server, alice, bob, 'after the disk had room again');
    expect(after.status).toBe(202);
    accepted.push(after.body.id as string);
    // Everything accepted was delivered: from the first cursor again (its acknowledgement is written now).
    const polled = await pollAll(server, bob, firstCursor);
    expect(polled.ids).toEqual(accepted.slice(5));
    // And acknowledging works again: nothing is left once the last cursor is passed back.
    const rest = await pollAll(server, bob, polled.cursor);
    expect(rest.ids).toEqual([]);

    console.log(`diskFull: ${accepted.length} signals accepted in all, ${5 + polled.ids.length} delivered (5 before the disk filled)`);
  });

  it('leaves an intact database', async () => {
    const exit = await stopGracefully(server, SIGTERM_BOUND_MS);
    expect(exit.code).toBe(0);
    const db = new Database(join(dataDir, 'signalbox.db'), { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      db.close();
    }
  });
});

/** Runs the built server on DATA_DIR until it exits by itself: its exit code and output. */
async function startToExit(): Promise<{ code: number | null; stderr: string; stdout: string }> {
  const env = { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', DATA_DIR: dataDir, LOG_LEVEL: 'info' };
  const child = spawn(process.execPath, [MAIN_JS], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  let stdout = '';
  child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stderr, stdout };
}

describe('a start that cannot write', () => {
  it('exits 1 with one line on stderr naming DATA_DIR when its file system is read-only', async () => {
    disk!.readOnly();
    try {
      const { code, stderr, stdout } = await startToExit();

      console.log(`diskFull: start on the read-only file system: exit ${code}, stderr ${JSON.stringify(stderr)}`);
      expect(code).toBe(1);
      expect(stderr).toBe(`signalbox: failed to start: DATA_DIR ${dataDir} is not writable (EROFS); the database, secrets and mail outbox live there\n`);
      expect(stdout).not.toMatch(/listening/);
    } finally {
      disk!.readWrite();
    }
  });

  it('exits 1 with one line naming the database when only the database file is read-only', async () => {
    // A read-only bind mount of the file alone: SQLite opens it read-only without a word, so only a write tells.
    const file = join(dataDir, 'signalbox.db');
    execFileSync('mount', ['--bind', '-o', 'ro', file, file]);
    try {
      const { code, stderr, stdout } = await startToExit();

      console.log(`diskFull: start on a read-only database file: exit ${code}, stderr ${JSON.stringify(stderr)}`);
      expect(code).toBe(1);
      expect(stderr).toBe(`signalbox: failed to start: the database ${file} cannot be written (read_only)\n`);
      expect(stdout).not.toMatch(/listening/);
    } finally {
      execFileSync('umount', [file]);
    }
  });
});
