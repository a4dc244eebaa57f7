/**
 * Two attacks by push endpoints on the server that pushes to them (docs/security.md, "One slow push
 * endpoint stalled push for everyone" and "An endless push answer was read without end"), measured
 * against one server process (SQLite in a temp DATA_DIR, rate limits off), everything on 127.0.0.1:
 *
 *   npm run bench:push-attacks
 *   ATTACKER_ACCOUNTS=1,5 ATTACKER_DEVICES=20 TRICKLE_EVERY_MS=2000 TRICKLE_FOR_MS=30000 ENDLESS_SECONDS=15 npm run bench:push-attacks   # the defaults
 *
 * trickle  ATTACKER_DEVICES endpoints on one attacker origin, spread over each of ATTACKER_ACCOUNTS
 *          accounts (one run per value), each answering 201 and then one byte every TRICKLE_EVERY_MS for
 *          TRICKLE_FOR_MS before it ends. An accomplice wakes all of them; 500 ms later a victim (another
 *          account, another push origin that answers at once) is sent a signal. Reported: the victim's
 *          delay from its send to its wake-up reaching its push service, and the attacker's requests open at
 *          most at once.
 * endless  one endpoint whose answer never ends, served by a child process (so that its CPU is not
 *          counted) writing 64 KiB chunks as fast as the connection takes them. Reported for the
 *          ENDLESS_SECONDS after the send: the bytes the server process read (Linux /proc/self/io
 *          rchar: sockets and its SQLite file), the bytes the receiver wrote (including what sat in
 *          loopback socket buffers when the server cut the connection) and the server process's CPU time.
 *
 * It uses only what both builds have (the app, its config and the HTTP API), so the same file measures
 * a checkout from before the fix: copy it into that checkout's bench/ and run it the same way.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Agent, createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  call as httpCall,
  connect as connectUsers,
  listen as listenOn,
  login as loginUser,
  rateLimitsOff,
  register as registerUser,
  startInProcess,
  webPushEnv,
  webPushSubscription,
  type BenchUser,
} from './fixture.js';
import { knob, knobText, machineLine, runBench } from './measure.js';

const ACCOUNTS = knobText('ATTACKER_ACCOUNTS', '1,5', '1').split(',').map(Number);
const DEVICES = knob('ATTACKER_DEVICES', 20, 3);
const TRICKLE_EVERY_MS = knob('TRICKLE_EVERY_MS', 2000, 200);
const TRICKLE_FOR_MS = knob('TRICKLE_FOR_MS', 30_000, 1000);
const ENDLESS_SECONDS = knob('ENDLESS_SECONDS', 15, 1);

const agent = new Agent({ keepAlive: true, maxSockets: 4 });

/** One JSON request to the bench's server over its agent. */
async function call(port: number, method: string, path: string, body?: unknown, token?: string): Promise<{ status: number; body: any }> {
  const reply = await httpCall(agent, port, method, path, { body, token });
  return { status: reply.status, body: reply.body ? JSON.parse(reply.body) : null };
}

const listen = async (server: Server) => `http://127.0.0.1:${await listenOn(server)}`;

/** A fresh server process-in-process with push on, and helpers to make users, devices and subscriptions. */
async function startServer(extraEnv: Record<string, string> = {}) {
  const server = await startInProcess({
    env: {
      LOG_LEVEL: 'error',
      ...rateLimitsOff(),
      ...webPushEnv(),
      DEVICES_MAX: String(Math.max(10, DEVICES)),
      POLLS_PER_USER: String(Math.max(10, DEVICES)),
      ...extraEnv,
    },
  });
  const { port } = server;
  let n = 0;
  const register = () => registerUser(agent, port, `u${++n}_${process.pid}`);
  const login = (username: string) => loginUser(agent, port, username);
  const connect = (a: BenchUser, b: BenchUser) => connectUsers(agent, port, a, b, { clear: true });
  const subscribe = async (token: string, deviceId: string, endpoint: string) => {
    const res = await call(port, 'PUT', `/users/me/devices/${deviceId}/push`, webPushSubscription(endpoint), token);
    if (res.status !== 200) throw new Error(`subscribe ${res.status} ${JSON.stringify(res.body)}`);
  };
  const send = async (from: { token: string }, to: { username: string }) => {
    const res = await call(port, 'POST', '/signaling/send', { to: to.username, type: 'offer', payload: 'ring' }, from.token);
    if (res.status !== 202) throw new Error(`send ${res.status}`);
  };
  const metrics = async () => (await httpCall(agent, port, 'GET', '/metrics')).body;
  return { register, login, connect, subscribe, send, metrics, stop: () => server.stop() };
}

/** The victim's wake-up delay with DEVICES trickling endpoints over `accounts` attacker accounts on one origin. */
async function trickle(accounts: number) {
  let open = 0;
  let maxOpen = 0;
  const attackerServer = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      open++;
      maxOpen = Math.max(maxOpen, open);
      res.writeHead(201);
      res.write('.');
      const every = setInterval(() => res.write('.'), TRICKLE_EVERY_MS);
      const end = setTimeout(() => res.end(), TRICKLE_FOR_MS);
      res.on('close', () => {
        clearInterval(every);
        clearTimeout(end);
        open--;
      });
    });
  });
  let victimAt = 0;
  const victimServer = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      victimAt ||= performance.now();
      res.writeHead(201).end();
    });
  });
  const [attackerOrigin, victimOrigin] = [await listen(attackerServer), await listen(victimServer)];
  const s = await startServer();
  const accomplice = await s.register();
  const owners = [];
  for (let a = 0; a < accounts; a++) {
    const owner = await s.register();
    await s.connect(accomplice, owner);
    owners.push(owner);
  }
  for (let i = 0; i < DEVICES; i++) {
    const owner = owners[i % accounts]!;
    const device = i < accounts ? owner : await s.login(owner.username);
    await s.subscribe(device.token, device.deviceId, `${attackerOrigin}/p/${i}`);
  }
  const [alice, bob] = [await s.register(), await s.register()];
  await s.connect(alice, bob);
  await s.subscribe(bob.token, bob.deviceId, `${victimOrigin}/p/bob`);

  for (const owner of owners) await s.send(accomplice, owner);
  await sleep(500);
  const openWhenVictimSent = open;
  const t0 = performance.now();
  await s.send(alice, bob);
  while (!victimAt) await sleep(5);
  const delayMs = victimAt - t0;
  await s.stop();
  attackerServer.closeAllConnections();
  attackerServer.close();
  victimServer.close();
  return { accounts, devices: DEVICES, openWhenVictimSent, maxOpen, victimDelayMs: Math.round(delayMs) };
}

/**
 * Bytes this process read through read(2) and the like, sockets included (Linux /proc/self/io `rchar`):
 * what the server took in, as opposed to what the receiver handed its kernel (some of which sits in
 * loopback socket buffers and is thrown away when the server destroys the socket).
 */
function bytesRead(): number {
  return Number(/^rchar: (\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))![1]);
}

/** The endless answer's cost to the server over ENDLESS_SECONDS. */
async function endless() {
  // The receiver in its own process: prints its port, then on "report" the bytes its sockets wrote.
  const child = spawn(
    process.execPath,
    [
      '-e',
      `
      const http = require('node:http');
      const chunk = Buffer.alloc(65536, 120);
      const sockets = new Set();
      let closedBytes = 0;
      const server = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          const pump = () => { while (!res.destroyed && res.write(chunk)); if (!res.destroyed) res.once('drain', pump); };
          pump();
        });
      });
      server.on('connection', (s) => { sockets.add(s); s.on('close', () => { closedBytes += s.bytesWritten; sockets.delete(s); }); });
      server.listen(0, '127.0.0.1', () => console.log(server.address().port));
      process.stdin.on('data', () => {
        let bytes = closedBytes;
        for (const s of sockets) bytes += s.bytesWritten;
        console.log(JSON.stringify({ bytes, connections: server._connections }));
        process.exit(0);
      });
      `,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines: string[] = [];
  const nextLine = () =>
    new Promise<string>((resolve) => {
      const take = () =>
        lines.length > 0 ? resolve(lines.shift()!) : child.stdout.once('data', (d: Buffer) => (lines.push(...d.toString().trim().split('\n')), take()));
      take();
    });
  const port = Number(await nextLine());
  const s = await startServer();
  const [alice, bob] = [await s.register(), await s.register()];
  await s.connect(alice, bob);
  await s.subscribe(bob.token, bob.deviceId, `http://127.0.0.1:${port}/p/bob`);
  const cpu0 = process.cpuUsage();
  const read0 = bytesRead();
  await s.send(alice, bob);
  await sleep(ENDLESS_SECONDS * 1000);
  const cpu = process.cpuUsage(cpu0);
  const read = bytesRead() - read0;
  child.stdin.write('report\n');
  const report = JSON.parse(await nextLine()) as { bytes: number };
  const metrics = await s.metrics();
  await s.stop();
  const attempts = metrics.split('\n').filter((l) => l.startsWith('signalbox_push_attempts_total') || l.startsWith('signalbox_push_wakeups_total'));
  return {
    seconds: ENDLESS_SECONDS,
    serverBytesRead: read,
    receiverBytesWritten: report.bytes,
    serverCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    counters: attempts,
  };
}

async function main() {
  console.log(machineLine());
  console.log(`trickle: ${DEVICES} attacker endpoints on one origin, a byte every ${TRICKLE_EVERY_MS} ms for ${TRICKLE_FOR_MS} ms each`);
  for (const accounts of ACCOUNTS) console.log('trickle', JSON.stringify(await trickle(accounts)));
  console.log('endless', JSON.stringify(await endless()));
  agent.destroy();
}

runBench(main, { exit: true });
