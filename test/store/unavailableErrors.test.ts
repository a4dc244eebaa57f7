import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MongoClient, MongoError, MongoNetworkError, MongoServerError, MongoWriteConcernError } from 'mongodb';
import { guardUnavailable } from '../../app/store/guard.js';
import { isMongoUnavailable } from '../../app/store/mongo/unavailable.js';
import { StoreUnavailableError } from '../../app/store/types.js';

/**
 * MongoDB cannot run here, so server replies are built the way the driver builds them from a reply
 * document (MongoServerError takes the reply as is); the server-selection failure is the driver's own,
 * against a real socket that answers nothing a driver understands.
 */
const reply = (doc: Record<string, unknown>) => new MongoServerError({ ok: 0, errmsg: 'x', ...doc });

describe('isMongoUnavailable', () => {
  it.each([
    ['NotWritablePrimary (election)', 10107],
    ['PrimarySteppedDown', 189],
    ['NotPrimaryNoSecondaryOk', 13435],
    ['NotPrimaryOrSecondary', 13436],
    ['InterruptedDueToReplStateChange', 11602],
    ['ShutdownInProgress', 91],
    ['MaxTimeMSExpired', 50],
    ['ExceededTimeLimit', 262],
    ['WriteConcernFailed', 64],
    ['OutOfDiskSpace (a full disk, like SQLite’s SQLITE_FULL)', 14031],
    ['LockTimeout', 24],
    ['Interrupted', 11601],
  ])('answers unavailable for %s', (_name, code) => {
    expect(isMongoUnavailable(reply({ code }))).toBe(true);
  });

  it('answers unavailable for an error labelled RetryableWriteError, whatever its code', () => {
    expect(isMongoUnavailable(reply({ code: 1, errorLabels: ['RetryableWriteError'] }))).toBe(true);
  });

  it('answers unavailable for a write-concern error, alone or inside a write reply', () => {
    expect(isMongoUnavailable(new MongoWriteConcernError({ writeConcernError: { code: 79, errmsg: 'unknown mode' }, ok: 1 }))).toBe(true);
    expect(isMongoUnavailable(reply({ code: 2, writeConcernError: { code: 79, errmsg: 'x' } }))).toBe(true);
  });

  it('answers unavailable for network errors', () => {
    expect(isMongoUnavailable(new MongoNetworkError('connection reset'))).toBe(true);
  });

  it('answers not unavailable for a duplicate key, a bad query, or anything not from the driver', () => {
    expect(isMongoUnavailable(reply({ code: 11000 }))).toBe(false);
    expect(isMongoUnavailable(reply({ code: 2, codeName: 'BadValue' }))).toBe(false);
    expect(isMongoUnavailable(new MongoError('api misuse'))).toBe(false);
    expect(isMongoUnavailable(new Error('bug'))).toBe(false);
  });

  it('answers unavailable after the client was closed (shutdown)', async () => {
    const client = new MongoClient('mongodb://127.0.0.1:9/?directConnection=true', { serverSelectionTimeoutMS: 200 });
    await client.close();
    const failure = await client
      .db('x')
      .collection('y')
      .findOne({})
      .catch((err: unknown) => err);
    expect(isMongoUnavailable(failure)).toBe(true);
  });

  describe('when no server can be selected', () => {
    let silent: Server;
    let port: number;
    beforeAll(async () => {
      // Accepts and closes every connection: the driver's hello never gets an answer.
      silent = createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      port = (silent.address() as { port: number }).port;
    });
    afterAll(async () => {
      await new Promise((resolve) => silent.close(resolve));
    });

    it('the guarded store answers StoreUnavailableError (503), not the raw error (500)', async () => {
      const client = new MongoClient(`mongodb://127.0.0.1:${port}/?directConnection=true`, { serverSelectionTimeoutMS: 300 });
      try {
        const aggregate = guardUnavailable({ find: async () => client.db('x').collection('y').findOne({}) }, isMongoUnavailable);
        await expect(aggregate.find()).rejects.toBeInstanceOf(StoreUnavailableError);
      } finally {
        await client.close();
      }
    });
  });
});
