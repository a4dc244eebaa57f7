/**
 * What a push subscription adds to `POST /signaling/send` (docs/push.md), in one server process with its
 * SQLite store in a temp DATA_DIR and a Web Push receiver on 127.0.0.1 (in this process too: it answers
 * 201 and does nothing else). Recipients hold no poll, so every send is a candidate for a wake-up.
 *
 *   npm run bench:push
 *   SENDS=1000 RECIPIENTS=50 REPEATS=3 npm run bench:push     # the defaults
 *
 * Three cases, each SENDS sequential sends (after 20 untimed) on one keep-alive socket, from one sender,
 * round robin over its recipients:
 *   none       RECIPIENTS recipients without a subscription
 *   coalesced  RECIPIENTS recipients with a Web Push subscription, PUSH_COALESCE_MS 5000 (the default):
 *              the first send to each pushes, the rest fall inside its window
 *   every      SENDS recipients with a subscription, one send each: every send causes one push (RFC 8291
 *              encryption, a VAPID signature and an HTTP request)
 * Each case reports the send's response time (p50, p95) and the process CPU time per send from the first
 * timed send until every wake-up it caused was received (so the push work off the request path counts).
 * The driver's own cost is in every case alike, so the differences are what push adds.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { Agent, createServer } from 'node:http';
import { join } from 'node:path';
import { ApnsFake, FcmFake, TEST_CA_FILE } from '../test/push/serviceFakes.js';
import { call as httpCall, listen, rateLimitsOff, register as registerUser, startInProcess, webPushEnv, webPushSubscription } from './fixture.js';
import { knob, latency, machineLine, median, runBench, SMOKE } from './measure.js';

const SENDS = knob('SENDS', 1000, 10);
const RECIPIENTS = knob('RECIPIENTS', 50, 3);
const REPEATS = knob('REPEATS', 3, 1);
const WARMUP = knob('WARMUP', 20, 2);
/** KIND=webpush (default) | apns | fcm: which transport the subscribed recipients use. */
const KIND = (process.env.KIND ?? 'webpush') as 'webpush' | 'apns' | 'fcm';

const agent = new Agent({ keepAlive: true, maxSockets: 1 });
let port = 0;
/** One JSON request to the bench's server over its agent. */
async function call(method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const reply = await httpCall(agent, port, method, path, { body, token });
  return { status: reply.status, body: reply.body ? JSON.parse(reply.body) : null };
}

async function main() {
  let received = 0;
  const receiver = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      received++;
      res.writeHead(201).end();
    });
  });
  const pushOrigin = `http://127.0.0.1:${await listen(receiver)}`;

  // The APNs key and the FCM service account, in a temp dir of their own (the server's is made with it).
  const dir = mkdtempSync(join(tmpdir(), 'signalbox-bench-push-'));
  // APNs and FCM: the local fakes of test/push (TLS on 127.0.0.1); the APNs fake skips its signature
  // check so its CPU does not count as ours. Each receipt is timed against its send (wake-up latency).
  const sentAt = new Map<string, number>();
  const latencies: number[] = [];
  const onReceipt = (token: string, at: number) => {
    received++;
    const t0 = sentAt.get(token);
    if (t0 !== undefined) latencies.push(at - t0);
  };
  const serviceEnv: Record<string, string> = {};
  let fakes: Array<{ close(): Promise<void> }> = [];
  if (KIND === 'apns') {
    const keys = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    writeFileSync(join(dir, 'AuthKey.p8'), keys.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const fake = await ApnsFake.start(keys.publicKey, 'KEY1234567', 'TEAM123456');
    fake.verify = false;
    const push = fake.received.push.bind(fake.received);
    fake.received.push = (...items) => {
      for (const r of items) onReceipt(r.path.slice('/3/device/'.length), r.at);
      return push(...items);
    };
    fakes = [fake];
    Object.assign(serviceEnv, {
      APNS_KEY_FILE: join(dir, 'AuthKey.p8'),
      APNS_KEY_ID: 'KEY1234567',
      APNS_TEAM_ID: 'TEAM123456',
      APNS_TOPIC: 'org.example.bench',
      APNS_URL: fake.origin,
      PUSH_CA_FILE: TEST_CA_FILE,
    });
  } else if (KIND === 'fcm') {
    const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const fake = await FcmFake.start(keys.publicKey, 'bench@example.iam.gserviceaccount.com', 'bench');
    const push = fake.received.push.bind(fake.received);
    fake.received.push = (...items) => {
      for (const r of items) onReceipt((JSON.parse(r.body.toString()) as { message: { token: string } }).message.token, r.at);
      return push(...items);
    };
    fakes = [fake];
    const file = join(dir, 'service-account.json');
    writeFileSync(
      file,
      JSON.stringify({
        project_id: 'bench',
        client_email: 'bench@example.iam.gserviceaccount.com',
        private_key: keys.privateKey.export({ type: 'pkcs8', format: 'pem' }),
        token_uri: fake.tokenUri,
      }),
    );
    Object.assign(serviceEnv, { FCM_SERVICE_ACCOUNT_FILE: file, FCM_URL: fake.origin, PUSH_CA_FILE: TEST_CA_FILE });
  }
  const server = await startInProcess({
    env: {
      LOG_LEVEL: 'warn',
      ...rateLimitsOff(),
      MAILBOX_MAX: '100000',
      MAILBOX_PER_SENDER: '100000',
      ...webPushEnv(),
      PUSH_QUEUE_MAX: '100000',
      // The smoke run waits out two coalescing windows per repeat: short ones.
      ...(SMOKE ? { PUSH_COALESCE_MS: '200' } : {}),
      ...serviceEnv,
    },
  });
  const { config } = server;
  port = server.port;

  let n = 0;
  const register = () => registerUser(agent, port, `u${++n}_${process.pid}`);
  const sender = await register();
  const tokenOf = new Map<string, string>();
  const recipients = async (count: number, subscribe: boolean) => {
    const out = [];
    for (let i = 0; i < count; i++) {
      const r = await register();
      await call('POST', '/connections/request', { username: r.username }, sender.token);
      await call('POST', '/connections/respond', { username: sender.username, action: 'accept' }, r.token);
      if (subscribe) {
        const token = KIND === 'apns' ? Buffer.from(r.deviceId.padEnd(32, '0').slice(0, 32)).toString('hex') : `bench:${r.deviceId}`;
        tokenOf.set(r.username, token);
        const sub = KIND === 'webpush' ? webPushSubscription(`${pushOrigin}/p/${r.deviceId}`) : { kind: KIND, token };
        const res = await call('PUT', `/users/me/devices/${r.deviceId}/push`, sub, r.token);
        if (res.status !== 200) throw new Error(`subscribe ${res.status} ${JSON.stringify(res.body)}`);
      }
      out.push(r);
    }
    return out;
  };

  const run = async (name: string, targets: Array<{ username: string }>, warm: Array<{ username: string }>, expectedPushes: number) => {
    for (let i = 0; i < WARMUP; i++)
      await call('POST', '/signaling/send', { to: warm[i % warm.length]!.username, type: 'offer', payload: 'x'.repeat(1024) }, sender.token);
    await new Promise((r) => setTimeout(r, 200));
    const before = received;
    const cpu0 = process.cpuUsage();
    const times: number[] = [];
    for (let i = 0; i < SENDS; i++) {
      const t0 = process.hrtime.bigint();
      const token = tokenOf.get(targets[i % targets.length]!.username);
      if (token && name === 'every') sentAt.set(token, performance.now());
      const res = await call('POST', '/signaling/send', { to: targets[i % targets.length]!.username, type: 'offer', payload: 'x'.repeat(1024) }, sender.token);
      times.push(Number(process.hrtime.bigint() - t0) / 1e6);
      if (res.status !== 202) throw new Error(`send ${res.status}`);
    }
    while (received - before < expectedPushes) await new Promise((r) => setTimeout(r, 5));
    const cpu = process.cpuUsage(cpu0);
    const { p50, p95 } = latency(times);
    return { name, p50, p95, cpuUsPerSend: (cpu.user + cpu.system) / SENDS, pushes: received - before };
  };

  const plain = await recipients(RECIPIENTS, false);
  const subscribed = await recipients(RECIPIENTS, true);
  const rows: Array<Awaited<ReturnType<typeof run>>> = [];
  for (let r = 0; r < REPEATS; r++) {
    const fresh = await recipients(SENDS, true);
    const warm = await recipients(WARMUP, true);
    const warmAgain = await recipients(WARMUP, true);
    rows.push(await run('none', plain, plain, 0));
    // Windows of the warm-up pushes are 5 s: wait them out so the first timed send to each pushes again.
    await new Promise((res) => setTimeout(res, config.pushCoalesceMs + 200));
    rows.push(await run('coalesced', subscribed, warm, RECIPIENTS));
    rows.push(await run('every', fresh, warmAgain, SENDS));
  }
  console.log(machineLine());
  const lat = latencies.filter((x) => x >= 0);
  if (lat.length > 0)
    console.log(
      `KIND=${KIND}: wake-up latency, send to the fake's receipt, over ${lat.length} wake-ups: p50 ${latency(lat).p50.toFixed(2)} ms, p99 ${latency(lat).p99.toFixed(2)} ms`,
    );
  console.log(`KIND=${KIND} SENDS=${SENDS} RECIPIENTS=${RECIPIENTS} REPEATS=${REPEATS}, 1 KiB offers, medians over repeats`);
  console.log('| case | pushes | send p50 ms | send p95 ms | CPU µs per send (incl. push work) |');
  console.log('|---|---|---|---|---|');
  for (const name of ['none', 'coalesced', 'every']) {
    const mine = rows.filter((r) => r.name === name);
    console.log(
      `| ${name} | ${mine[0]!.pushes} | ${median(mine.map((r) => r.p50)).toFixed(3)} | ${median(mine.map((r) => r.p95)).toFixed(3)} | ${median(mine.map((r) => r.cpuUsPerSend)).toFixed(0)} |`,
    );
  }
  console.log('repeats:', JSON.stringify(rows.map((r) => ({ ...r, p50: +r.p50.toFixed(3), p95: +r.p95.toFixed(3), cpuUsPerSend: Math.round(r.cpuUsPerSend) }))));
  await server.stop();
  receiver.close();
  for (const f of fakes) await f.close();
  agent.destroy();
  rmSync(dir, { recursive: true, force: true });
}

runBench(main, { exit: true });
