import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import pg from 'pg';
import { openPostgresStore } from '../../app/store/postgres/index.js';
import { makeTestApp, type TestApp } from '../helpers/app.js';
import { bearer, registerUser } from '../helpers/factories.js';
import { runScript, writeTestSecrets } from '../helpers/run.js';
import { poll } from '../helpers/signaling.js';
import { createTestSchema, listeners, type TestSchema } from '../store/postgresTestDb.js';
import { heldPolls } from './helpers.js';

// The compiled admin CLI (dist/scripts/admin.js) beside a server on PostgreSQL: its own process on the same
// database. Run only with DATABASE_URL (jest.config.js). Interval timers are frozen, as in
// postgresCrossInstance.test.ts, so the periodic session check cannot end a held poll: only the ended-session
// announcement can.

let schema: TestSchema;

beforeEach(async () => {
  schema = await createTestSchema();
});
afterEach(async () => {
  await schema.drop();
});

describe('npm run admin with STORE=postgres', () => {
  it('exits 66 and creates nothing when the database has no Signalbox schema (a wrong DATABASE_URL)', async () => {
    const t = makeTestApp(); // for its DATA_DIR and secrets only
    try {
      writeTestSecrets(t.dir);
      const res = await runScript('admin', ['users', 'list'], { STORE: 'postgres', DATABASE_URL: schema.url, DATA_DIR: t.dir });
      expect(res.code).toBe(66);
      expect(res.stderr).toContain('is DATABASE_URL right?');
      expect(res.stdout).toBe('');
      const client = new pg.Client({ connectionString: schema.url });
      await client.connect();
      try {
        const { rows } = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1', [schema.name]);
        expect(rows[0]!.n).toBe(0);
      } finally {
        await client.end();
      }
    } finally {
      await t.close();
    }
  });

  describe('beside a running server', () => {
    let t: TestApp;
    let stop: () => Promise<void>;
    beforeEach(async () => {
      jest.useFakeTimers({ doNotFake: ['setTimeout', 'clearTimeout', 'setImmediate', 'clearImmediate', 'nextTick', 'queueMicrotask', 'Date', 'hrtime', 'performance'] });
      t = makeTestApp({ store: await openPostgresStore(schema.url) });
      writeTestSecrets(t.dir);
      // The CLI works in real time; the app's clock is moved there so its sessions are live for the CLI too.
      t.clock.advance((Date.now() - t.clock.now()) / 1000);
      stop = t.app.lifecycle.start();
      await listeners(schema, 2);
    });
    afterEach(async () => {
      t.app.lifecycle.releasePolls();
      await stop();
      await t.close();
      jest.useRealTimers();
    });
    const admin = (...args: string[]) => runScript('admin', args, { STORE: 'postgres', DATABASE_URL: schema.url, DATA_DIR: t.dir });

    it('lists the accounts the server stored', async () => {
      await registerUser(t, { username: 'amy' });
      const res = await admin('users', 'list');
      expect(res.code).toBe(0);
      expect(res.stdout).toContain('amy');
    });

    it('disabling an account from the CLI ends the poll its device holds on the server at once (401)', async () => {
      const amy = await registerUser(t, { username: 'amy' });
      const held = poll(t, amy, { wait: 30 });
      await heldPolls(t, 1);
      expect((await admin('users', 'disable', 'amy')).code).toBe(0);
      const res = await held;
      expect(res.status).toBe(401);
      expect((await t.http.get('/users/me/devices').set(bearer(amy))).status).toBe(401);
    });
  });
});
