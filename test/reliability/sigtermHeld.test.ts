import { afterAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { parseOpenFileLimit } from '../../app/signaling/pollLimits.js';
import { call, expectStatus, type Answer } from './helpers/faultClient.js';
import { inPool, openSeeder, type Device } from './helpers/seedServer.js';
import { cleanUp, makeDataDir, startServer, stopGracefully, withServerReport } from './helpers/serverProcess.js';

// SIGTERM (systemd stop, a deploy) while the built server holds many long-polls: every held poll gets a
// well-formed answer, the process exits 0 within a bound, and what was pending and not acknowledged
// is all still there after a restart on the same DATA_DIR.

/** Every device of a user holds a poll: within the POLLS_PER_USER and DEVICES_MAX defaults of 10. */
const DEVICES_PER_USER = 10;
const HELD_WANTED = 3000;
/**
 * Each held poll is a socket here and one in the server, whose cap (POLLS_MAX unset) is half its open-file
 * limit; the same limit applies to both processes (Node raises the soft limit to the hard one). So at
 * most 40 % of it, leaving room for the database, the log pipes and the test's other requests; nothing is raised.
 */
const OPEN_FILES = parseOpenFileLimit(readFileSync('/proc/self/limits', 'utf8')) ?? 1024;
const USERS = Math.floor(Math.min(HELD_WANTED, OPEN_FILES * 0.4) / DEVICES_PER_USER);
const HELD = USERS * DEVICES_PER_USER;
/** Signals pending for the recipient before SIGTERM; the first ACKED of them acknowledged by one device. */
const PENDING = 50;
const ACKED = 20;
/** Bound on the exit after SIGTERM: above main.ts's 10 s grace (after which it exits 1), so a slow exit shows as its code. */
const EXIT_BOUND_MS = 15_000;
/** Bound on all the polls being held. */
const HOLD_BOUND_MS = 60_000;
const CURSOR = /^\d{1,15}\.[A-Za-z0-9_-]{16}$/;
/** Sends racing the shutdown: SIGTERM comes once this many were answered; the loop stops at the first failure. */
const RACING_BEFORE_SIGTERM = 5;
const RACING_MAX = 5_000;
/** Room for the pending and the racing sends in the recipient's mailboxes (the caps have their own tests). */
const MAILBOX_ROOM = { MAILBOX_MAX: '10000', MAILBOX_PER_SENDER: '10000' };

afterAll(() => cleanUp());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Polled {
  signals: Array<{ id: string }>;
  cursor: string;
}

describe(`SIGTERM with ${HELD} long-polls held`, () => {
  it(
    'answers every held poll 200 with an empty list and a cursor, exits 0, and keeps every unacknowledged signal, racing sends included, for after the restart',
    () =>
      withServerReport(async () => {
        const dataDir = makeDataDir();
        const seeder = await openSeeder(dataDir);
        const firstDevices = await inPool(Array.from({ length: USERS }), 4, () => seeder.register('held'));
        const more = await inPool(
          firstDevices.flatMap((d) => Array.from({ length: DEVICES_PER_USER - 1 }, () => d)),
          8,
          (d) => seeder.login(d),
        );
        const holders: Device[] = [...firstDevices, ...more];
        const sender = await seeder.register('term_snd');
        const recipient = await seeder.register('term_rcv');
        const recipientOther = await seeder.login(recipient);
        await seeder.connect(sender, recipient);
        await seeder.close();
        expect(new Set(holders.map((d) => d.deviceId)).size).toBe(HELD);

        const server = await startServer({ dataDir, env: MAILBOX_ROOM });
        const send = async (i: number) =>
          (
            expectStatus(
              await call(server.url, 'POST', '/signaling/send', { token: sender.accessToken, body: { to: recipient.username, type: 'custom', payload: `pending-${i}` } }),
              202,
              'send',
            ) as { id: string }
          ).id;
        const poll = async (device: Device, after?: string) =>
          expectStatus(
            await call(server.url, 'GET', `/signaling/poll?${after === undefined ? '' : `after=${encodeURIComponent(after)}&`}wait=0`, { token: device.accessToken }),
            200,
            'poll',
          ) as Polled;

        // The recipient's first device acknowledges the first ACKED signals and is handed the rest without
        // acknowledging them; its other device never polls. Both must find the unacknowledged ones after the restart.
        const ids: string[] = [];
        for (let i = 0; i < ACKED; i++) ids.push(await send(i));
        const firstPart = await poll(recipient);
        expect(firstPart.signals.map((s) => s.id)).toEqual(ids);
        for (let i = ACKED; i < PENDING; i++) ids.push(await send(i));
        const handedOut = await poll(recipient, firstPart.cursor);
        expect(handedOut.signals.map((s) => s.id)).toEqual(ids.slice(ACKED));

        const held = holders.map((d) =>
          call(server.url, 'GET', '/signaling/poll?wait=30', { token: d.accessToken }).then(
            (answer): Answer | Error => answer,
            (err: unknown) => err as Error,
          ),
        );
        const holdDeadline = Date.now() + HOLD_BOUND_MS;
        for (;;) {
          const metrics = (await call(server.url, 'GET', '/metrics')).text;
          if (metrics.includes(`signalbox_held_polls ${HELD}\n`)) break;
          if (Date.now() > holdDeadline) throw new Error(`not all ${HELD} polls held within ${HOLD_BOUND_MS} ms: ${/signalbox_held_polls \d+/.exec(metrics)?.[0]}`);
          await sleep(100);
        }

        // A sender keeps sending (each with an idempotencyKey) while the server stops, until an attempt fails.
        const raced: string[] = [];
        let unanswered: string | undefined;
        let racingEndedWith = '';
        const racing = (async () => {
          for (let i = 0; i < RACING_MAX; i++) {
            const key = `racing-${i}`;
            const body = { to: recipient.username, type: 'custom', payload: key, idempotencyKey: key };
            try {
              const res = await call(server.url, 'POST', '/signaling/send', { token: sender.accessToken, body });
              if (res.status === 202) {
                raced.push((res.body as { id: string }).id);
                continue;
              }
              racingEndedWith = `${res.status} ${res.text.slice(0, 200)}`;
            } catch (err) {
              // Refused or cut off by the stopping server: retried after the restart.
              racingEndedWith = (err as Error).message;
            }
            unanswered = key;
            return;
          }
        })();
        while (raced.length < RACING_BEFORE_SIGTERM && unanswered === undefined) await sleep(5);
        expect(racingEndedWith).toBe('');

        const exit = await stopGracefully(server, EXIT_BOUND_MS);
        await racing;
        const answers = await Promise.all(held);
        const wellFormed = answers.filter(
          (a) =>
            !(a instanceof Error) &&
            a.status === 200 &&
            a.contentType.startsWith('application/json') &&
            Array.isArray((a.body as Polled | null)?.signals) &&
            (a.body as Polled).signals.length === 0 &&
            CURSOR.test(String((a.body as { cursor?: unknown }).cursor)),
        ).length;
        const failures = answers.filter((a) => a instanceof Error).map((a) => a.message);
        const otherAnswers = answers.filter((a): a is Answer => !(a instanceof Error) && a.status !== 200).map((a) => `${a.status} ${a.text.slice(0, 120)}`);

        const restarted = await startServer({ dataDir, port: server.port, env: MAILBOX_ROOM });
        const racedAnswered = raced.length;
        // The send the shutdown cut off, retried with its key: stored once whether or not it was before.
        if (unanswered !== undefined) {
          const body = { to: recipient.username, type: 'custom', payload: unanswered, idempotencyKey: unanswered };
          raced.push((expectStatus(await call(restarted.url, 'POST', '/signaling/send', { token: sender.accessToken, body }), 202, 'retried send') as { id: string }).id);
        }
        /** Every pending id of a device, paging with the cursor (a poll answers at most 100). */
        const allPending = async (device: Device, after?: string): Promise<string[]> => {
          const ids: string[] = [];
          let cursor = after;
          for (let page = 0; page < 200; page++) {
            const query = cursor === undefined ? '' : `after=${encodeURIComponent(cursor)}&`;
            const answer = expectStatus(await call(restarted.url, 'GET', `/signaling/poll?${query}wait=0`, { token: device.accessToken }), 200, 'poll') as Polled;
            if (answer.signals.length === 0) return ids;
            ids.push(...answer.signals.map((s) => s.id));
            cursor = answer.cursor;
          }
          throw new Error('the mailbox did not drain within 200 polls');
        };
        const pendingFirst = await allPending(recipient, firstPart.cursor);
        const pendingOther = await allPending(recipientOther);

        console.log(
          `SIGTERM with held polls: ${JSON.stringify({
            held: HELD,
            openFileLimit: OPEN_FILES,
            answeredWellFormed: wellFormed,
            otherAnswers: otherAnswers.length,
            connectionFailures: failures.length,
            exitCode: exit.code,
            exitSignal: exit.signal,
            exitMs: Math.round(exit.ms),
            sendsRacingTheShutdownAnswered202: racedAnswered,
            racingSendsEndedWith: racingEndedWith,
            expectedPendingAfterRestart: { device1: PENDING - ACKED + raced.length, device2: PENDING + raced.length },
            pendingAfterRestart: { device1: pendingFirst.length, device2: pendingOther.length },
          })}`,
        );

        expect(failures.slice(0, 5)).toEqual([]);
        expect(otherAnswers.slice(0, 5)).toEqual([]);
        expect(wellFormed).toBe(HELD);
        expect({ code: exit.code, signal: exit.signal }).toEqual({ code: 0, signal: null });
        // Nothing lost: what was handed out but not acknowledged comes again, in order; what was acknowledged does not.
        // The sends racing the shutdown likewise: each answered 202 is there once, and the one cut off once.
        expect(pendingFirst).toEqual([...ids.slice(ACKED), ...raced]);
        expect(pendingOther).toEqual([...ids, ...raced]);
      }),
    240_000,
  );
});
