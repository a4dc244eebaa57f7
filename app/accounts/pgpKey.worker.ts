import { parentPort } from 'node:worker_threads';
import { checkPublicKey, PgpRefusal, type CheckedKey } from './pgpCheck.js';
import { NOT_A_KEY } from './pgpPolicy.js';

/** A job from pgpKey.ts; `now` in epoch milliseconds (the server clock, injected). */
export interface PgpJob {
  id: number;
  armored: string;
  now: number;
}

/** The worker's answer: the checked key, or the sentence of the rule it broke. */
export type PgpAnswer = { id: number; ok: true; key: CheckedKey } | { id: number; ok: false; message: string };

// One job at a time: the pool sends the next only after this one answered, and terminates the
// worker when it takes too long.
const port = parentPort;
if (!port) throw new Error('pgpKey.worker.js runs only as a worker thread');
port.on('message', (job: PgpJob) => {
  checkPublicKey(job.armored, new Date(job.now)).then(
    (key) => port.postMessage({ id: job.id, ok: true, key } satisfies PgpAnswer),
    (err: unknown) =>
      // An unexpected error is answered with the generic sentence: its message may describe the input.
      port.postMessage({ id: job.id, ok: false, message: err instanceof PgpRefusal ? err.message : NOT_A_KEY } satisfies PgpAnswer),
  );
});
port.postMessage('ready');
