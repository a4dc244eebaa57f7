import { afterAll, describe, expect, it } from '@jest/globals';
import { Agent } from 'node:http';
import { call, wasRefused, type Answer } from './helpers/faultClient.js';
import { MailboxLedger, type PolledSignal } from './helpers/mailboxLedger.js';
import { openSeeder, type Device } from './helpers/seedServer.js';
import { cleanUp, killHard, makeDataDir, startServer, withServerReport, type ServerProcess } from './helpers/serverProcess.js';

// The core promise of the mailbox under kill -9 of the built server, restarted each time on the same
// DATA_DIR and port: every send answered 202 is delivered to every device of the recipient, in the
// sender's order, with no gap in the device's sequence, never again once acknowledged, and a send
// retried with its idempotencyKey (its first answer lost in the crash) is stored once.

const SENDERS = 4;
const RECIPIENTS = 2;
const DEVICES_PER_RECIPIENT = 2;
const KILLS = 6;
/** A kill comes only once this many sends were answered since the (re)start: the crash hits traffic. */
const SENDS_BEFORE_KILL = 20;
/** Bound on waiting for that traffic after a start. */
const TRAFFIC_BOUND_MS = 20_000;
/** After that, a random moment within this many ms. */
const KILL_JITTER_MS = [200, 2500] as const;
/** Traffic goes on this long after the last restart before the senders stop. */
const TAIL_MS = 2000;
/** Bound on the drain after the senders stopped. */
const DRAIN_BOUND_MS = 30_000;
/** A failed request (server down, connection reset) is retried after this long. */
const RETRY_MS = 25;
const POLL_WAIT_S = 2;
/** Bounds each sender's loop whatever happens, so the test cannot run away. */
const MAX_SENDS_PER_SENDER = 50_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const between = ([lo, hi]: readonly [number, number]) => lo + Math.floor(Math.random() * (hi - lo));

afterAll(() => cleanUp());

interface Accepted {
  /** The sender's index and its running number: the payload's key. */
  key: string;
  id: string;
  to: string;
  devices: number;
}

interface SenderState {
  device: Device;
  index: number;
  accepted: Accepted[];
  /** Attempts refused while the server was down: nothing reached it. */
  refusedConnections: number;
  /** Attempts sent whose answer never came (reset, cut off by the kill): each retried with the same idempotencyKey. */
  answersLost: number;
  /** 429 answers (mailbox full while the recipients catch up), retried likewise. */
  refused: number;
  /** Answers other than 202, 429 and a failed connection: none expected. */
  unexpected: string[];
}

describe('kill -9 of the server during sends and long-polls', () => {
  it(
    'loses nothing answered 202, duplicates nothing acknowledged or retried, and keeps order and sequence on every device',
    () =>
      withServerReport(async () => {
        const dataDir = makeDataDir();
        const seeder = await openSeeder(dataDir);
        const senderDevices: Device[] = [];
        for (let s = 0; s < SENDERS; s++) senderDevices.push(await seeder.register('snd'));
        const recipients: Device[][] = [];
        for (let r = 0; r < RECIPIENTS; r++) {
          const first = await seeder.register('rcv');
          const devices = [first];
          while (devices.length < DEVICES_PER_RECIPIENT) devices.push(await seeder.login(first));
          recipients.push(devices);
        }
        for (const sender of senderDevices) for (const devices of recipients) await seeder.connect(sender, devices[0]!);
        await seeder.close();

        let server: ServerProcess = await startServer({ dataDir });
        const port = server.port;
        const url = server.url;
        let acceptedSinceStart = 0;
        let sending = true;
        let draining = false;

        const senders: SenderState[] = senderDevices.map((device, index) => ({
          device,
          index,
          accepted: [],
          refusedConnections: 0,
          answersLost: 0,
          refused: 0,
          unexpected: [],
        }));
        const sendLoop = async (st: SenderState) => {
          // Keep-alive, as a browser or the SDK's fetch: after a kill the pooled socket fails and the retry opens a new one.
          const agent = new Agent({ keepAlive: true, maxSockets: 1 });
          for (let i = 0; sending && i < MAX_SENDS_PER_SENDER; i++) {
            const to = recipients[i % RECIPIENTS]![0]!.username;
            const key = `s${st.index}-${i}`;
            // The same idempotencyKey on every attempt, as the SDK does: until an answer arrives.
            for (;;) {
              let res: Answer;
              try {
                res = await call(url, 'POST', '/signaling/send', {
                  token: st.device.accessToken,
                  body: { to, type: 'custom', payload: `${key}|${'x'.repeat(48)}`, idempotencyKey: key },
                  agent,
                });
              } catch (err) {
                if (wasRefused(err)) st.refusedConnections++;
                else st.answersLost++;
                await sleep(RETRY_MS);
                continue;
              }
              if (res.status === 202) {
                const body = res.body as { id: string; devices: number };
                st.accepted.push({ key, id: body.id, to, devices: body.devices });
                acceptedSinceStart++;
                break;
              }
              if (res.status === 429) {
                st.refused++;
                await sleep(RETRY_MS * 4);
                continue;
              }
              st.unexpected.push(`${res.status} ${res.text.slice(0, 200)}`);
              await sleep(RETRY_MS);
            }
          }
          agent.destroy();
        };

        let drainStartedAt = Infinity;
        const ledgers = recipients.map((devices) => devices.map(() => new MailboxLedger()));
        const pollFailures = { refusedConnections: 0, answersLost: 0, ackAnswersLost: 0, unexpected: [] as string[] };
        /**
         * One device's loop. 'after': acknowledges by passing the cursor back on the next poll (the SDK's way).
         * 'ack-endpoint': polls without `after` and acknowledges each answer with POST /signaling/ack until it
         * gets 204, so a confirmed ack lost in a crash would show as a delivery after the ack.
         */
        const pollLoop = async (device: Device, ledger: MailboxLedger, mode: 'after' | 'ack-endpoint') => {
          const agent = new Agent({ keepAlive: true, maxSockets: 1 });
          const checkDrainBound = () => {
            if (draining && Date.now() > drainStartedAt + DRAIN_BOUND_MS) throw new Error(`drain of ${device.deviceId} did not finish within ${DRAIN_BOUND_MS} ms`);
          };
          for (;;) {
            checkDrainBound();
            const after = ledger.cursor;
            const query = mode === 'after' ? ledger.afterQuery() : '';
            let res: Answer;
            try {
              res = await call(url, 'GET', `/signaling/poll?${query}wait=${POLL_WAIT_S}`, { token: device.accessToken, agent });
            } catch (err) {
              // The server was down or died with the poll in flight: poll again with the same cursor, acknowledging nothing new.
              if (wasRefused(err)) pollFailures.refusedConnections++;
              else pollFailures.answersLost++;
              await sleep(RETRY_MS);
              continue;
            }
            if (res.status !== 200) {
              pollFailures.unexpected.push(`${res.status} ${res.text.slice(0, 200)}`);
              await sleep(RETRY_MS);
              continue;
            }
            const body = res.body as { signals: PolledSignal[]; cursor: string };
            if (mode === 'after') ledger.record(after, body.signals, body.cursor);
            else {
              ledger.recordWithoutAfter(body.signals, body.cursor);
              // Acknowledge what was handed out, retrying until the server confirms.
              while (body.signals.length > 0) {
                checkDrainBound();
                try {
                  const ack = await call(url, 'POST', '/signaling/ack', { token: device.accessToken, agent, body: { upTo: body.cursor } });
                  if (ack.status === 204) {
                    ledger.acknowledged(body.cursor);
                    break;
                  }
                  pollFailures.unexpected.push(`ack ${ack.status} ${ack.text.slice(0, 200)}`);
                } catch (err) {
                  if (!wasRefused(err)) pollFailures.ackAnswersLost++;
                }
                await sleep(RETRY_MS);
              }
            }
            // Draining began after every sender had its last 202: an empty answer means nothing is left.
            if (draining && body.signals.length === 0) {
              agent.destroy();
              return;
            }
          }
        };

        const sendersDone = Promise.all(senders.map(sendLoop));
        const pollersDone = Promise.all(recipients.flatMap((devices, r) => devices.map((d, k) => pollLoop(d, ledgers[r]![k]!, k % 2 === 0 ? 'after' : 'ack-endpoint'))));

        const killDelays: number[] = [];
        for (let k = 0; k < KILLS; k++) {
          const waitingSince = Date.now();
          while (acceptedSinceStart < SENDS_BEFORE_KILL) {
            if (Date.now() - waitingSince > TRAFFIC_BOUND_MS) throw new Error(`no ${SENDS_BEFORE_KILL} sends answered within ${TRAFFIC_BOUND_MS} ms of a start`);
            await sleep(10);
          }
          const delay = between(KILL_JITTER_MS);
          killDelays.push(delay);
          await sleep(delay);
          const exit = await killHard(server);
          expect(exit.signal).toBe('SIGKILL');
          acceptedSinceStart = 0;
          server = await startServer({ dataDir, port });
        }
        await sleep(TAIL_MS);
        sending = false;
        await sendersDone;
        drainStartedAt = Date.now();
        draining = true;
        await pollersDone;

        // The verdict, device by device.
        const accepted = senders.flatMap((s) => s.accepted);
        const report: Record<string, unknown> = {
          kills: KILLS,
          killDelaysMs: killDelays,
          sendsAnswered202: accepted.length,
          sendAnswersLostAndRetried: senders.reduce((n, s) => n + s.answersLost, 0),
          sendAttemptsRefusedWhileDown: senders.reduce((n, s) => n + s.refusedConnections, 0),
          sends429: senders.reduce((n, s) => n + s.refused, 0),
          pollAnswersLost: pollFailures.answersLost,
          pollAttemptsRefusedWhileDown: pollFailures.refusedConnections,
          ackAnswersLostAndRetried: pollFailures.ackAnswersLost,
          devices: {},
        };
        const problems: string[] = [];
        for (const s of senders) if (s.unexpected.length) problems.push(`sender ${s.index} unexpected answers: ${s.unexpected.slice(0, 3).join('; ')}`);
        if (pollFailures.unexpected.length) problems.push(`unexpected poll answers: ${pollFailures.unexpected.slice(0, 3).join('; ')}`);
        const wrongDevices = accepted.filter((a) => a.devices !== DEVICES_PER_RECIPIENT);
        if (wrongDevices.length) problems.push(`${wrongDevices.length} sends stored for other than ${DEVICES_PER_RECIPIENT} devices`);
        const ids = new Set(accepted.map((a) => a.id));
        if (ids.size !== accepted.length) problems.push(`${accepted.length - ids.size} 202 answers repeat an id given to another send`);

        let lostTotal = 0;
        recipients.forEach((devices, r) => {
          const username = devices[0]!.username;
          const expected = accepted.filter((a) => a.to === username);
          const expectedIds = new Set(expected.map((a) => a.id));
          devices.forEach((_device, k) => {
            const ledger = ledgers[r]![k]!;
            const name = `recipient${r}/device${k} (${k % 2 === 0 ? 'acks by after=' : 'acks by POST /signaling/ack'})`;
            const lost = expected.filter((a) => !ledger.has(a.id));
            lostTotal += lost.length;
            const unknown = ledger.firstDeliveries.filter((s) => !expectedIds.has(s.id));
            // A retried send stored twice would show as two ids for one payload key.
            const idsPerKey = new Map<string, Set<string>>();
            for (const s of ledger.firstDeliveries) {
              const key = s.payload.split('|')[0]!;
              idsPerKey.set(key, (idsPerKey.get(key) ?? new Set()).add(s.id));
            }
            const storedTwice = [...idsPerKey.values()].filter((set) => set.size > 1).length;
            // Per sender, the first deliveries come in the order of that sender's 202s to this recipient.
            let outOfOrder = 0;
            senders.forEach((st) => {
              const sent = expected.filter((a) => a.key.startsWith(`s${st.index}-`)).map((a) => a.id);
              const got = ledger.firstDeliveries.filter((s) => s.from === st.device.username && expectedIds.has(s.id)).map((s) => s.id);
              if (JSON.stringify(sent) !== JSON.stringify(got)) outOfOrder++;
            });
            (report.devices as Record<string, unknown>)[name] = {
              lost: lost.length,
              ...ledger.counts,
              unknown: unknown.length,
              storedTwice,
              sendersOutOfOrder: outOfOrder,
            };
            if (lost.length)
              problems.push(
                `${name}: ${lost.length} signals answered 202 never delivered, e.g. ${lost
                  .slice(0, 3)
                  .map((a) => a.key)
                  .join(', ')}`,
              );
            if (unknown.length)
              problems.push(
                `${name}: ${unknown.length} delivered signals no 202 announced, e.g. ${unknown
                  .slice(0, 3)
                  .map((s) => s.payload.split('|')[0])
                  .join(', ')}`,
              );
            if (storedTwice) problems.push(`${name}: ${storedTwice} payload keys stored as two signals`);
            if (outOfOrder) problems.push(`${name}: ${outOfOrder} senders' signals out of their send order`);
            if (ledger.counts.redeliveredAfterAck || ledger.counts.gapErrors || ledger.counts.seqConflicts) {
              problems.push(`${name}: ${ledger.problems.join('; ')}`);
            }
          });
        });
        report.lost = lostTotal;
        console.log(`kill -9 reliability: ${JSON.stringify(report, null, 2)}`);

        expect(problems).toEqual([]);
        expect(killDelays).toHaveLength(KILLS);
        // The run exercised what it claims to: thousands of sends and lost answers retried across crashes.
        expect(accepted.length).toBeGreaterThan(KILLS * SENDS_BEFORE_KILL);
        expect(senders.reduce((n, s) => n + s.answersLost, 0)).toBeGreaterThan(0);
        expect(pollFailures.answersLost).toBeGreaterThan(0);
      }),
    180_000,
  );
});
