#!/usr/bin/env node
// The example device as a command: configuration from the environment (README.md beside this file),
// one line on stdout per thing that happened, a clean stop on SIGINT/SIGTERM.
import { resolve } from 'node:path';
import { FileStorage } from './fileStorage.js';
import { NodePeer } from './peer.js';
import { weriftRtc } from './weriftRtc.js';

function required(name: string): string {
  const value = process.env[name];
  if (!value) {
    process.stderr.write(`${name} is required (see examples/node-peer/README.md)\n`);
    process.exit(2);
  }
  return value;
}

const list = (value: string | undefined) =>
  (value ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
const log = (line: string) => process.stdout.write(`${new Date().toISOString()} ${line}\n`);

const portRange = list(process.env.PORT_RANGE).map(Number);
const peer = await NodePeer.start({
  baseUrl: required('SIGNALBOX_URL'),
  username: required('SIGNALBOX_USERNAME'),
  password: required('SIGNALBOX_PASSWORD'),
  storage: new FileStorage(resolve(process.env.STORAGE_FILE ?? 'node-peer-storage.json')),
  rtc: weriftRtc({
    ...(process.env.BIND_ADDRESS ? { bindAddress: process.env.BIND_ADDRESS } : {}),
    ...(portRange.length === 2 ? { portRange: [portRange[0]!, portRange[1]!] as [number, number] } : {}),
  }),
  ...(process.env.RELAY_ONLY === '1' ? { iceTransportPolicy: 'relay' as const } : {}),
  acceptRequestsFrom: list(process.env.ACCEPT_FROM),
  deviceName: process.env.DEVICE_NAME ?? 'node-peer',
  log,
}).catch((err: unknown) => {
  // One line, not a stack: a wrong password, an unreachable server or key_elsewhere (README "Run it").
  const { code, message } = err as { code?: string; message?: string };
  process.stderr.write(`could not start: ${code ?? 'error'}: ${message ?? String(err)}\n`);
  process.exit(1);
});
log('ready');

// CALL=username: call that connection once at start and greet it on the data channel.
if (process.env.CALL) {
  try {
    const call = await peer.call(process.env.CALL);
    log(`connected: ${call.peer} (call ${call.sessionId})`);
    call.channel?.send(`hello from ${peer.sb.user!.username}`);
  } catch (err) {
    log(`call failed: ${(err as { code?: string }).code ?? String(err)}`);
  }
}

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await peer.stop();
  log('stopped');
  // werift keeps a TURN refresh timer per allocation for minutes after its connection closed; nothing is left to do.
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
