import { afterAll, describe, expect, it } from '@jest/globals';
import { MongoClient, MongoError, MongoWriteConcernError, WriteConcern, type ClientSession, type TransactionOptions } from 'mongodb';
import { guardUnavailable } from '../../app/store/guard.js';
import { MONGO_CLIENT_OPTIONS } from '../../app/store/mongo/index.js';
import { COMMIT_MAX_MS, TRANSACTION_OPTIONS } from '../../app/store/mongo/mailboxes.js';
import { isMongoUnavailable } from '../../app/store/mongo/unavailable.js';
import { StoreUnavailableError } from '../../app/store/types.js';

/** How long a poll is held (docs/api.md): a send must be answered well within it. */
const POLL_HOLD_MS = 30_000;
/** The write-concern timeout the driver gives a commit whose write concern names none. */
const DRIVER_DEFAULT_COMMIT_WTIMEOUT_MS = 10_000;

/**
 * The driver's own withTransaction (its retry rules are what is under test) on a real ClientSession, with
 * the one command that needs a server, commitTransaction, answered the way mongod answers a commit while
 * the replica set cannot confirm majority writes: the write is applied on the primary, and the wait for
 * the majority ends at whichever comes first, the command's maxTimeMS (write-concern error
 * MaxTimeMSExpired, 50) or its wtimeout (WriteConcernFailed, 64, errInfo.wtimeout), each after that
 * long. The driver's commitTransaction labels a write-concern error it may retry
 * UnknownTransactionCommitResult; so does the model. MongoDB cannot run here.
 */
function degradedReplicaSet(session: ClientSession) {
  const commits: number[] = []; // how long each commit waited, in the model's time
  type Started = { transaction: { options: { maxTimeMS?: number; writeConcern?: { wtimeoutMS?: number } } } };
  session.commitTransaction = async () => {
    const transaction = (session as unknown as Started).transaction; // the current attempt's
    const maxTimeMS = transaction.options.maxTimeMS;
    const wtimeout = transaction.options.writeConcern?.wtimeoutMS ?? DRIVER_DEFAULT_COMMIT_WTIMEOUT_MS;
    // The driver stops on its own after 120 s of real time; the model stops it far sooner.
    if (commits.length >= 20) throw new MongoError(`still committing after ${commits.length} tries`);
    if (maxTimeMS !== undefined && maxTimeMS <= wtimeout) {
      commits.push(maxTimeMS);
      throw new MongoWriteConcernError({ ok: 1, writeConcernError: { code: 50, codeName: 'MaxTimeMSExpired', errmsg: 'operation exceeded time limit' } });
    }
    commits.push(wtimeout);
    const timedOut = new MongoWriteConcernError({
      ok: 1,
      writeConcernError: { code: 64, codeName: 'WriteConcernFailed', errmsg: 'waiting for replication timed out', errInfo: { wtimeout: true } },
    });
    timedOut.addErrorLabel('UnknownTransactionCommitResult');
    throw timedOut;
  };
  return commits;
}

describe('MongoDB transactions while the replica set cannot confirm majority writes', () => {
  const client = new MongoClient('mongodb://127.0.0.1:9/?directConnection=true', { serverSelectionTimeoutMS: 200 });
  afterAll(async () => {
    await client.close();
  });

  const send = async (options: TransactionOptions) => {
    const session = client.startSession();
    const commits = degradedReplicaSet(session);
    const sends = guardUnavailable({ send: () => session.withTransaction(async () => 'sent', options) }, isMongoUnavailable);
    const outcome = await sends.send().catch((err: unknown) => err);
    await session.endSession();
    return { outcome, commits, heldMs: commits.reduce((a, b) => a + b, 0) };
  };

  it('commits once and answers 503 within the commit bound, well under a poll hold', async () => {
    const { outcome, commits, heldMs } = await send(TRANSACTION_OPTIONS);
    expect(outcome).toBeInstanceOf(StoreUnavailableError);
    expect(commits).toEqual([COMMIT_MAX_MS]);
    expect(heldMs).toBeLessThan(POLL_HOLD_MS / 2);
  });

  it('without a bound of its own, the driver commits again and again (what the bound prevents)', async () => {
    const { outcome, commits } = await send({ readConcern: { level: 'snapshot' }, writeConcern: new WriteConcern('majority') });
    expect(String(outcome)).toContain('still committing');
    expect(commits.length).toBeGreaterThan(2);
  });

  it('a write-concern timeout shorter than the commit bound would be retried too', async () => {
    const { commits } = await send({ ...TRANSACTION_OPTIONS, writeConcern: new WriteConcern('majority', COMMIT_MAX_MS - 1000) });
    expect(commits.length).toBeGreaterThan(2);
  });
});

describe('MongoDB writes outside transactions', () => {
  it('wait for their write concern at most the commit bound, keeping the w the URI asks', async () => {
    for (const [uri, w] of [
      ['mongodb://127.0.0.1:9/?replicaSet=rs0', undefined],
      ['mongodb://127.0.0.1:9/?replicaSet=rs0&w=majority&wtimeoutMS=60000', 'majority'],
      ['mongodb://127.0.0.1:9/?replicaSet=rs0&w=1', 1],
    ] as const) {
      const client = new MongoClient(uri, MONGO_CLIENT_OPTIONS);
      try {
        // What every collection's writes send (the driver's own merge of the URI and the options).
        const wc = client.db('signalbox').collection('sessions').writeConcern;
        expect(wc?.wtimeoutMS).toBe(COMMIT_MAX_MS);
        expect(wc?.w).toBe(w);
      } finally {
        await client.close();
      }
    }
  });
});
