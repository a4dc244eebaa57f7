import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { call, dropRequest, expectStatus, openRequest, type DropMoment } from './helpers/faultClient.js';
import { openSeeder, type Device } from './helpers/seedServer.js';
import { cleanUp, makeDataDir, startServer, type ServerProcess } from './helpers/serverProcess.js';

// A client that gives up on a request at the worst moments: mid-body, right after the request is
// written, after the first bytes of the answer (a phone switching networks, a tab closed). The built
// server must neither lose a signal whose answer was lost nor store a retried send twice.

const MOMENTS: DropMoment[] = ['mid-body', 'after-request', 'after-first-bytes'];
/** Rounds per moment: each a fresh drop and its recovery. */
const ROUNDS = 25;
/** Signals sent before each dropped poll: an answer with more than one to lose. */
const SIGNALS_PER_POLL = 3;
/** Signals (and their size) behind a poll whose large answer is cut off while being written. */
const BIG_POLL = { signals: 100, bytes: 12_000 };
const BIG_POLL_ROUNDS = 5;
/** Bound on waiting for the server to see a held poll come or go (its metric). */
const METRIC_BOUND_MS = 10_000;

let server: ServerProcess;
let sender: Device;
let recipient: Device;
/** The recipient's cursor: everything up to it is acknowledged. */
let cursor: string | undefined;
const counts: Record<string, number> = {};
/** Every request's status as the server logged it (LOG_LEVEL=info), and its error-level lines. */
const statusesLogged: Record<string, number> = {};
const serverErrors: string[] = [];

function readLogLine(line: string): void {
  let entry: { level?: number; status?: number; msg?: string };
  try {
    entry = JSON.parse(line) as typeof entry;
  } catch {
    serverErrors.push(`not JSON: ${line.slice(0, 300)}`);
    return;
  }
  if (entry.status !== undefined) statusesLogged[entry.status] = (statusesLogged[entry.status] ?? 0) + 1;
  if ((entry.level ?? 0) >= 50 || (entry.status ?? 0) >= 500) serverErrors.push(line.slice(0, 500));
}
const count = (name: string, by = 1) => (counts[name] = (counts[name] ?? 0) + by);

interface Signal {
  id: string;
  payload: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const afterParam = (c: string | undefined) => (c === undefined ? '' : `after=${encodeURIComponent(c)}&`);

async function send(payload: string, idempotencyKey?: string): Promise<string> {
  const res = await call(server.url, 'POST', '/signaling/send', {
    token: sender.accessToken,
    body: { to: recipient.username, type: 'custom', payload, ...(idempotencyKey ? { idempotencyKey } : {}) },
  });
  return (expectStatus(res, 202, 'send') as { id: string }).id;
}

async function poll(after: string | undefined, wait = 0): Promise<{ signals: Signal[]; cursor: string }> {
  const res = await call(server.url, 'GET', `/signaling/poll?${afterParam(after)}wait=${wait}`, { token: recipient.accessToken });
  return expectStatus(res, 200, 'poll') as { signals: Signal[]; cursor: string };
}

/** Polls until the mailbox is empty, acknowledging everything; answers what it handed out. */
async function drain(): Promise<Signal[]> {
  const all: Signal[] = [];
  for (let i = 0; i < 1000; i++) {
    const answer = await poll(cursor);
    cursor = answer.cursor;
    if (answer.signals.length === 0) return all;
    all.push(...answer.signals);
  }
  throw new Error('the mailbox did not drain within 1000 polls');
}

async function heldPolls(): Promise<number> {
  const text = (await call(server.url, 'GET', '/metrics')).text;
  const line = text.split('\n').find((l) => l.startsWith('signalbox_held_polls '));
  if (!line) throw new Error('signalbox_held_polls not in /metrics');
  return Number(line.split(' ')[1]);
}

async function untilHeldPolls(n: number): Promise<void> {
  const deadline = Date.now() + METRIC_BOUND_MS;
  while ((await heldPolls()) !== n) {
    if (Date.now() > deadline) throw new Error(`signalbox_held_polls did not reach ${n} within ${METRIC_BOUND_MS} ms`);
    await sleep(10);
  }
}

beforeAll(async () => {
  const dataDir = makeDataDir();
  const seeder = await openSeeder(dataDir);
  sender = await seeder.register('drop_snd');
  recipient = await seeder.register('drop_rcv');
  await seeder.connect(sender, recipient);
  await seeder.close();
  // Room for every round's signals: the caps have their own tests, and a 429 here would hide a real answer.
  server = await startServer({ dataDir, env: { MAILBOX_MAX: '2000', MAILBOX_PER_SENDER: '2000', LOG_LEVEL: 'info' }, onLogLine: readLogLine });
}, 60_000);

afterAll(async () => {
  console.log(`dropped responses: ${JSON.stringify({ ...counts, statusesLogged }, null, 2)}`);
  await cleanUp();
});

describe('a client that drops the connection while sending, polling or acknowledging', () => {
  it.each(MOMENTS)('stores a send dropped %s exactly once when it is retried with its idempotencyKey', async (moment) => {
    await drain();
    const retried = new Map<string, string>();
    for (let i = 0; i < ROUNDS; i++) {
      const key = `send-${moment}-${i}`;
      const payload = `${key}|payload`;
      const body = { to: recipient.username, type: 'custom', payload, idempotencyKey: key };
      const dropped = await dropRequest(server.url, 'POST', '/signaling/send', moment, { token: sender.accessToken, body });
      count(`send dropped ${moment}`);
      const id = await send(payload, key);
      retried.set(payload, id);
      // An answer that began before the drop already named the signal: the retry must name the same one.
      const firstId = /"id":"([^"]+)"/.exec(dropped.received)?.[1];
      if (dropped.received.startsWith('HTTP/1.1 202')) count(`send dropped ${moment}: stored before the drop`);
      if (firstId !== undefined) {
        count(`send dropped ${moment}: retry answered the dropped answer's id`, firstId === id ? 1 : 0);
        expect(id).toBe(firstId);
      }
    }
    const delivered = await drain();
    const byPayload = new Map<string, string[]>();
    for (const s of delivered) byPayload.set(s.payload, [...(byPayload.get(s.payload) ?? []), s.id]);
    // Each payload once, under the id the retry's 202 gave: nothing lost, nothing stored twice.
    expect(Object.fromEntries(byPayload)).toEqual(Object.fromEntries([...retried].map(([payload, id]) => [payload, [id]])));
    count(`send dropped ${moment}: signals stored`, delivered.length);
  });

  it.each(MOMENTS)('hands the signals of a poll dropped %s to the next poll with the same cursor', async (moment) => {
    await drain();
    for (let i = 0; i < ROUNDS; i++) {
      const ids: string[] = [];
      for (let k = 0; k < SIGNALS_PER_POLL; k++) ids.push(await send(`poll-${moment}-${i}-${k}`));
      await dropRequest(server.url, 'GET', `/signaling/poll?${afterParam(cursor)}wait=0`, moment, { token: recipient.accessToken });
      count(`poll dropped ${moment}`);
      const again = await poll(cursor);
      expect(again.signals.map((s) => s.id)).toEqual(ids);
      count(`poll dropped ${moment}: signals handed out again`, again.signals.length);
      cursor = again.cursor;
    }
    expect(await drain()).toEqual([]);
  });

  it('hands out again a large poll answer (~1.2 MB) cut off while it is being written', async () => {
    await drain();
    for (let i = 0; i < BIG_POLL_ROUNDS; i++) {
      const ids: string[] = [];
      for (let k = 0; k < BIG_POLL.signals; k++) ids.push(await send(`${i}-${k}|${'b'.repeat(BIG_POLL.bytes)}`));
      const dropped = await dropRequest(server.url, 'GET', `/signaling/poll?${afterParam(cursor)}wait=0`, 'after-first-bytes', { token: recipient.accessToken });
      expect(dropped.received).toMatch(/^HTTP\/1\.1 200/);
      count('big poll cut off after its first bytes');
      const again = await poll(cursor);
      expect(again.signals.map((s) => s.id)).toEqual(ids);
      count('big poll: signals handed out again', again.signals.length);
      cursor = again.cursor;
    }
    expect(await drain()).toEqual([]);
  });

  it('keeps for the next poll a signal that woke a held poll whose client left as the answer began', async () => {
    await drain();
    for (let i = 0; i < ROUNDS; i++) {
      // The poll is held (nothing pending), then a send wakes it; the client drops on the answer's first bytes.
      const dropping = dropRequest(server.url, 'GET', `/signaling/poll?${afterParam(cursor)}wait=20`, 'after-first-bytes', { token: recipient.accessToken });
      await untilHeldPolls(1);
      const id = await send(`held-${i}`);
      const dropped = await dropping;
      expect(dropped.received).toMatch(/^HTTP\/1\.1 200/);
      count('held poll woken, dropped after first bytes');
      const again = await poll(cursor);
      expect(again.signals.map((s) => s.id)).toEqual([id]);
      cursor = again.cursor;
    }
  });

  it('frees the slot of a held poll whose client left, and keeps the signal sent afterwards for the next poll', async () => {
    await drain();
    for (let i = 0; i < ROUNDS; i++) {
      const held = await openRequest(server.url, 'GET', `/signaling/poll?${afterParam(cursor)}wait=20`, { token: recipient.accessToken });
      await untilHeldPolls(1);
      // Nothing is pending, so nothing was answered: the client leaves the held poll.
      expect(held.received()).toBe('');
      await held.drop();
      await untilHeldPolls(0);
      count('held poll dropped while waiting');
      const id = await send(`after-held-${i}`);
      const again = await poll(cursor);
      expect(again.signals.map((s) => s.id)).toEqual([id]);
      cursor = again.cursor;
    }
  });

  it.each(MOMENTS)('acknowledges at most up to its cursor when an ack is dropped %s, and the retried ack completes it', async (moment) => {
    await drain();
    for (let i = 0; i < ROUNDS; i++) {
      const first = await send(`ack-${moment}-${i}-a`);
      const seen = await poll(cursor);
      expect(seen.signals.map((s) => s.id)).toEqual([first]);
      const second = await send(`ack-${moment}-${i}-b`);
      await dropRequest(server.url, 'POST', '/signaling/ack', moment, { token: recipient.accessToken, body: { upTo: seen.cursor } });
      count(`ack dropped ${moment}`);
      // A poll that does not advance the cursor: the first signal is there or not, the second always.
      const pending = (await poll(cursor)).signals.map((s) => s.id);
      if (moment === 'mid-body') expect(pending).toEqual([first, second]);
      else if (moment === 'after-first-bytes') expect(pending).toEqual([second]);
      else expect([[first, second], [second]]).toContainEqual(pending);
      if (pending.length === 2) count(`ack dropped ${moment}: not applied`);
      expectStatus(await call(server.url, 'POST', '/signaling/ack', { token: recipient.accessToken, body: { upTo: seen.cursor } }), 204, 'ack');
      const after = await poll(cursor);
      expect(after.signals.map((s) => s.id)).toEqual([second]);
      cursor = after.cursor;
    }
  });

  it('is still up and serving after every drop, and logged no error and no 5xx for any of them', async () => {
    expect(server.child.exitCode).toBeNull();
    expect((await call(server.url, 'GET', '/health')).status).toBe(200);
    expect(await heldPolls()).toBe(0);
    // A client leaving is the client's business: not a server error (pino level 50+), nor a 500.
    expect(serverErrors).toEqual([]);
    expect(Object.keys(statusesLogged).length).toBeGreaterThan(0);
  });
});
