/**
 * What the signed envelope (docs/protocol.md "The envelope") costs a receiver per signal, in µs:
 *
 *   npm run bench:envelope
 *   SIGNALS=2000 LOG=500 node dist/bench/envelopeChecks.js      # the defaults
 *
 * Rows, each the mean over SIGNALS signals after a warm-up of WARMUP (200):
 * - checks: parseEnvelope + checkEnvelope (JSON parse, types, outer-signal, recipient and time checks);
 * - nonce log: NonceLog.check on a log that starts with LOG entries and grows by one per check, over an
 *   in-memory storage (read, look up, append, write back: what a localStorage-backed app pays, minus
 *   the disk); and the first check after a restart, which parses the whole stored log;
 * - open, whole: openEnvelope (decrypt, verify the signature, the checks, the nonce log) on messages
 *   sealed by sealEnvelope;
 * - unseal only: decrypt and verify the same kind of message without an envelope (what the SDK did
 *   before), for scale. The envelope's own share is the difference, and the first two rows.
 * Keys are the SDK's own (Ed25519 + Curve25519, crypto.ts generateDeviceKey); Node's WebCrypto.
 */
import { generateDeviceKey, readPrivate, readPublicKey, seal, unseal } from '../client/src/crypto.js';
import { NonceLog, checkEnvelope, openEnvelope, parseEnvelope, randomNonce, sealEnvelope, type EnvelopeAddress } from '../client/src/envelope.js';
import { MemoryStorage } from '../client/src/storage.js';
import { knob, machineLine, runBench } from './measure.js';

const SIGNALS = knob('SIGNALS', 2000, 50);
const LOG = knob('LOG', 500, 20);
const WARMUP = knob('WARMUP', 200, 10);

const address: EnvelopeAddress = { from: 'alice', fromDevice: 'dev-a1', to: 'bob', toDevice: null, type: 'ice', sessionId: '0123456789abcdef0123456789abcdef' };
const context = (id: string) => ({ id, from: 'alice', fromDevice: 'dev-a1', type: 'ice', sessionId: address.sessionId, me: 'bob', myDevice: 'dev-b1' });
/** A typical call message body: one ICE candidate. */
const body = JSON.stringify({
  p: 'signalbox.call/1',
  kind: 'ice',
  candidate: { candidate: 'candidate:1 1 udp 41885695 127.0.0.1 50000 typ relay raddr 0.0.0.0 rport 0 generation 0 ufrag abcd', sdpMid: '0', sdpMLineIndex: 0 },
});

async function meanMicros(n: number, run: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < Math.min(WARMUP, n); i++) await run(-1 - i);
  const started = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await run(i);
  return Number(process.hrtime.bigint() - started) / 1000 / n;
}

async function main(): Promise<void> {
  const [alice, bob] = await Promise.all([generateDeviceKey('alice'), generateDeviceKey('bob')]);
  const alicePriv = await readPrivate(alice.privateKey);
  const alicePub = await readPublicKey(alice.publicKey);
  const bobPriv = await readPrivate(bob.privateKey);
  const bobPub = await readPublicKey(bob.publicKey);

  // The plaintext checks alone.
  const plaintexts = await Promise.all(
    Array.from({ length: 64 }, async () => {
      const sealed = await sealEnvelope(address, body, bobPub, alicePriv);
      return JSON.stringify(sealed.envelope);
    }),
  );
  const checks = await meanMicros(SIGNALS, (i) => checkEnvelope(parseEnvelope(plaintexts[Math.abs(i) % plaintexts.length]!), context('x')));

  // The nonce log, pre-filled with LOG entries inside the window; it grows by one entry per check.
  const storage = new MemoryStorage();
  const log = new NonceLog(storage, () => 'nonces.bob');
  const now = Date.now();
  for (let i = 0; i < LOG; i++) await log.check(randomNonce(), `fill-${i}`, now, now);
  const nonceRows: Array<[string, string]> = Array.from({ length: SIGNALS + WARMUP }, () => [randomNonce(), '']);
  let k = 0;
  const nonces = await meanMicros(SIGNALS, async () => {
    const [nonce] = nonceRows[k]!;
    await log.check(nonce, `sig-${k++}`, now, now);
  });
  const logSize = (JSON.parse(storage.getItem('nonces.bob')!) as unknown[]).length;
  // A restarted app: the first check parses the whole log from storage.
  const coldLog = () => new NonceLog(storage, () => 'nonces.bob');
  const cold = await meanMicros(WARMUP, () => coldLog().check(randomNonce(), `cold-${k++}`, now, now));

  // Whole messages.
  const CRYPTO_N = Math.min(SIGNALS, 500);
  const sealedEnvelopes = await Promise.all(Array.from({ length: CRYPTO_N + WARMUP }, () => sealEnvelope(address, body, bobPub, alicePriv)));
  const sealedPlain = await Promise.all(Array.from({ length: CRYPTO_N + WARMUP }, () => seal(body, bobPub, alicePriv)));
  // Interleaved, so JIT warm-up, GC and other load on the machine fall on both alike.
  const openLog = new NonceLog(new MemoryStorage(), () => 'n');
  let whole = 0;
  let plain = 0;
  for (let i = 0; i < CRYPTO_N + WARMUP; i++) {
    const t0 = process.hrtime.bigint();
    await openEnvelope(sealedEnvelopes[i]!.armored, bobPriv, alicePub, context(`s-${i}`), openLog);
    const t1 = process.hrtime.bigint();
    await unseal(sealedPlain[i]!, bobPriv, alicePub);
    const t2 = process.hrtime.bigint();
    if (i >= WARMUP) {
      whole += Number(t1 - t0) / 1000 / CRYPTO_N;
      plain += Number(t2 - t1) / 1000 / CRYPTO_N;
    }
  }

  const row = (name: string, us: number) => console.log(`| ${name} | ${us.toFixed(1)} |`);
  console.log(machineLine());
  console.log(`envelope checks, Node ${process.version}, ${SIGNALS} signals (${CRYPTO_N} for whole messages), nonce log of ${LOG}`);
  console.log('| per signal | µs |');
  console.log('|---|---|');
  row('checks (parse + checkEnvelope)', checks);
  row(`nonce log check (log growing from ${LOG + WARMUP} to ${logSize} entries, in-memory storage)`, nonces);
  row(`nonce log check, first after a restart (parses ~${logSize} entries)`, cold);
  row('openEnvelope, whole (decrypt + verify + checks + nonce log)', whole);
  row('unseal only (decrypt + verify, no envelope)', plain);
}

runBench(main);
