import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { invalidPgpKey } from '../core/errors.js';
import type { PgpKeyRecord } from '../store/types.js';
import { PgpWorkerPool, type PgpPoolOptions } from './pgpKeyPool.js';
import { refusalFor, scanPublicKeyBlock, SECRET_MATERIAL } from './pgpPolicy.js';

/** The contract's cap on an uploaded key (docs/api.md), counted in UTF-8 bytes of the armored text. */
export const PGP_KEY_MAX_BYTES = 64 * 1024;

// Checked on the raw text before parsing, so secret material is refused without being decoded at all;
// the packet scan and the worker's `isPrivate()` catch secret packets hidden under another armor header.
const SECRET_ARMOR = /-----BEGIN PGP PRIVATE KEY BLOCK-----/i;

/** A good key checks in milliseconds; 2 s leaves room for a loaded machine and none for an attack. */
export const PGP_CHECK_TIMEOUT_MS = 2_000;
/** Checks waiting for a worker: past a few time limits of backlog, answering 503 at once is kinder. */
export const PGP_CHECK_QUEUE = 8;
/** At most two workers: key checks are rare, and the event loop and argon2 need the other cores. */
export const PGP_WORKERS_MAX = 2;
const PGP_WORKERS = Math.min(PGP_WORKERS_MAX, Math.max(1, availableParallelism() - 1));

/**
 * Where the compiled worker is. In production this module is dist/app/accounts/pgpKey.js and the worker
 * sits next to it. Under ts-jest this module is the TypeScript source, which a Node 20 worker thread
 * cannot load; `npm test` first runs `tsc -p tsconfig.json`, which emits the same tree into dist/, so
 * the compiled copy there is used (re-run tsc after changing the worker's files).
 */
function workerUrl(): URL {
  const here = import.meta.url;
  const url = here.endsWith('.ts') ? new URL('../../dist/app/accounts/pgpKey.worker.js', here) : new URL('./pgpKey.worker.js', here);
  if (!existsSync(fileURLToPath(url))) throw new Error(`OpenPGP key worker not found at ${fileURLToPath(url)}: run tsc first`);
  return url;
}

const DEFAULTS: Omit<PgpPoolOptions, 'workerUrl'> = { workers: PGP_WORKERS, queue: PGP_CHECK_QUEUE, timeoutMs: PGP_CHECK_TIMEOUT_MS };
let pool: PgpWorkerPool | null = null;
let poolOptions = DEFAULTS;

/**
 * Changes the worker pool's size, queue or time limit (tests use a tiny time limit to reach the timeout
 * path with a good key); running workers are terminated and the next check starts new ones. The pool is
 * process-wide, like libuv's thread pool that argon2 uses: workers are expensive to start, and a pool per
 * app would let two apps in one process use twice the cores.
 */
export async function configurePgpChecks(options: Partial<Omit<PgpPoolOptions, 'workerUrl'>>): Promise<void> {
  poolOptions = { ...poolOptions, ...options };
  const old = pool;
  pool = null;
  await old?.close();
}

/** Back to the default size, queue and time limit, with the workers terminated. */
export async function resetPgpChecks(): Promise<void> {
  poolOptions = DEFAULTS;
  await configurePgpChecks({});
}

/**
 * Validates an uploaded ASCII-armored key and returns what is stored: exactly one public key (no
 * secret material), every key packet on the allow-list (pgpPolicy.ts), the primary key valid at `now`
 * (not expired, not revoked, self-signatures verify), a usable encryption (sub)key, at most 64 KiB,
 * re-armored from the parsed packets. Each refusal is `400 invalid_pgp_key` naming the rule; no refusal
 * quotes the input, so secret material is never echoed or logged. Parsing and signature checks run in a
 * worker thread with a hard time limit; a full queue is `503 unavailable`.
 */
export async function readPublicKey(armored: string, now: Date): Promise<PgpKeyRecord> {
  if (Buffer.byteLength(armored, 'utf8') > PGP_KEY_MAX_BYTES) {
    throw invalidPgpKey(`The OpenPGP key is larger than ${PGP_KEY_MAX_BYTES / 1024} KiB.`);
  }
  if (SECRET_ARMOR.test(armored)) throw invalidPgpKey(SECRET_MATERIAL);
  // The quick scan refuses what the allow-list forbids without waking a worker; what it cannot read is
  // left to the worker, which parses fully and judges the same allow-list before verifying anything.
  const scanned = scanPublicKeyBlock(armored);
  if (scanned?.secret) throw invalidPgpKey(SECRET_MATERIAL);
  for (const key of scanned?.keys ?? []) {
    const refusal = refusalFor(key);
    if (refusal) throw invalidPgpKey(refusal);
  }
  pool ??= new PgpWorkerPool({ ...poolOptions, workerUrl: workerUrl() });
  const answer = await pool.run({ armored, now: now.getTime() });
  if (!answer.ok) throw invalidPgpKey(answer.message);
  return answer.key;
}
