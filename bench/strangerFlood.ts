/**
 * A stranger making a user unreachable by looping "ask to connect" and "cancel" (docs/security.md,
 * "Mailbox bounds for strangers"): what is left in the victim's device mailbox, and whether a real
 * contact's signal is then accepted.
 *
 *   npm run bench:strangers                                    # limits as configured (defaults)
 *   RATE_CONNECTION_REQUEST=off CONNECTION_REQUEST_COOLDOWN=0 npm run bench:strangers   # the event bound alone
 *   ROUNDS=1500 STRANGERS=150 node dist/bench/strangerFlood.js # the defaults
 *
 * One process: createApp as bench/fixture.ts startInProcess builds it (SQLite on disk in a temp DATA_DIR, pino to /dev/null) on
 * 127.0.0.1, driven over plain node:http. The limits on connection requests (RATE_CONNECTION_REQUEST,
 * CONNECTION_REQUEST_COOLDOWN, EVENTS_MAX, MAILBOX_MAX) are taken from the environment or their defaults;
 * every other RATE_* is off, since the bench registers its users from one address and they are not what
 * is measured. Scenarios:
 *
 *   1. loop: victim, stranger and contact register; contact and victim connect, and the victim's device
 *      empties its mailbox. The stranger runs ROUNDS rounds of POST /connections/request then
 *      DELETE /connections/victim, the victim's device never polling. Then: the answers by status, the
 *      entries pending in the victim's device (read from the store, all of them, by type), and the status
 *      of the contact's POST /signaling/send to the victim.
 *   2. many: STRANGERS more strangers each ask the victim once (distinct pairs, nothing to replace), then the
 *      same two figures: what bounds events when every event is a different stranger's.
 *
 * The same file runs against a checkout from before the bounds (it uses only the HTTP API and the store's
 * `signals.pending`), for the before/after comparison.
 */
import { Agent } from 'node:http';
import { call as request, register as registerUser, rateLimitsOff, startInProcess, type BenchUser as Account } from './fixture.js';
import { knob, machineLine, runBench } from './measure.js';

const env = process.env;
const ROUNDS = knob('ROUNDS', 1500, 30);
const STRANGERS = knob('STRANGERS', 150, 5);
/** What is measured: these come from the environment (or their defaults), every other RATE_* is off. */
const MEASURED = ['RATE_CONNECTION_REQUEST', 'CONNECTION_REQUEST_COOLDOWN', 'EVENTS_MAX', 'MAILBOX_MAX'];

async function main(): Promise<void> {
  const measured = Object.fromEntries(MEASURED.filter((n) => env[n] !== undefined).map((n) => [n, env[n]!]));
  const server = await startInProcess({ env: { LOG_LEVEL: 'info', ACCESS_TOKEN_TTL: '3600', ...rateLimitsOff(MEASURED), ...measured } });
  const { store, config, port } = server;
  const agent = new Agent({ keepAlive: true });

  const call = async (method: string, path: string, token: string | null, body?: unknown) => {
    const res = await request(agent, port, method, path, { token: token ?? undefined, body });
    const retryAfter = res.headers['retry-after'];
    return {
      status: res.status,
      retryAfter: typeof retryAfter === 'string' ? retryAfter : null,
      body: res.body ? (JSON.parse(res.body) as Record<string, unknown>) : {},
    };
  };
  const register = (username: string): Promise<Account> => registerUser(agent, port, username);
  const expect = (what: string, status: number, wanted: number) => {
    if (status !== wanted) throw new Error(`${what}: ${status}, expected ${wanted}`);
  };
  const victimMailbox = async (victim: Account) => {
    const pending = await store.signals.pending(victim.deviceId, new Date(), 1_000_000);
    const byType: Record<string, number> = {};
    for (const e of pending) byType[e.type] = (byType[e.type] ?? 0) + 1;
    return { total: pending.length, byType };
  };
  const contactSends = async (contact: Account, victim: Account) => {
    const res = await call('POST', '/signaling/send', contact.token, { to: victim.username, type: 'offer', payload: 'hello' });
    return res.status === 202 ? '202' : `${res.status} ${(res.body.error as { code?: string } | undefined)?.code ?? ''}`.trim();
  };

  try {
    const [victim, stranger, contact] = [await register('victim'), await register('stranger'), await register('contact')];
    expect('contact asks', (await call('POST', '/connections/request', contact.token, { username: 'victim' })).status, 201);
    expect('victim accepts', (await call('POST', '/connections/respond', victim.token, { username: 'contact', action: 'accept' })).status, 200);
    expect('victim clears', (await call('DELETE', '/signaling/clear', victim.token)).status, 204);

    console.log(machineLine());
    console.log(
      `config: RATE_CONNECTION_REQUEST=${env.RATE_CONNECTION_REQUEST ?? '(default)'} CONNECTION_REQUEST_COOLDOWN=${env.CONNECTION_REQUEST_COOLDOWN ?? '(default)'} ` +
        `EVENTS_MAX=${env.EVENTS_MAX ?? '(default)'} MAILBOX_MAX=${config.mailboxMax}`,
    );
    /** Answers by status pair, with the range of Retry-After seen for each. */
    const answers: Record<string, { rounds: number; retryAfter?: [number, number] }> = {};
    let firstRefusal: string | null = null;
    const started = performance.now();
    for (let round = 0; round < ROUNDS; round++) {
      const asked = await call('POST', '/connections/request', stranger.token, { username: 'victim' });
      const cancelled = await call('DELETE', '/connections/victim', stranger.token);
      const seen = (answers[`request ${asked.status} / cancel ${cancelled.status}`] ??= { rounds: 0 });
      seen.rounds++;
      if (asked.retryAfter !== null) {
        const wait = Number(asked.retryAfter);
        seen.retryAfter = seen.retryAfter ? [Math.min(seen.retryAfter[0], wait), Math.max(seen.retryAfter[1], wait)] : [wait, wait];
      }
      if (asked.status !== 201 && firstRefusal === null) {
        firstRefusal = `round ${round + 1}: ${asked.status} ${(asked.body.error as { code?: string } | undefined)?.code ?? ''} Retry-After ${asked.retryAfter ?? '-'}`;
      }
    }
    const seconds = (performance.now() - started) / 1000;
    console.log(`loop: ${ROUNDS} rounds in ${seconds.toFixed(1)} s; answers ${JSON.stringify(answers)}; first refusal: ${firstRefusal ?? 'none'}`);
    console.log(`loop: victim's device holds ${JSON.stringify(await victimMailbox(victim))}; contact's send: ${await contactSends(contact, victim)}`);

    expect('victim clears', (await call('DELETE', '/signaling/clear', victim.token)).status, 204);
    const asked: Record<number, number> = {};
    for (let i = 0; i < STRANGERS; i++) {
      const s = await register(`stranger_${i}`);
      const res = await call('POST', '/connections/request', s.token, { username: 'victim' });
      asked[res.status] = (asked[res.status] ?? 0) + 1;
    }
    console.log(`many: ${STRANGERS} strangers asked once each; answers ${JSON.stringify(asked)}`);
    console.log(`many: victim's device holds ${JSON.stringify(await victimMailbox(victim))}; contact's send: ${await contactSends(contact, victim)}`);
  } finally {
    agent.destroy();
    await server.stop();
  }
}

runBench(main);
