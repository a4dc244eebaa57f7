import { describe, expect, it } from '@jest/globals';
import Database from '../../app/store/sqlite/driver.js';
import { join } from 'node:path';
import { connect, connectionNames, pendingPairs, removeConnection, respond, sendRequest } from '../helpers/connections.js';
import { useTestApp, withUsers } from '../helpers/perTest.js';

const ROUNDS = 25;

// Rounds of request and cancel: the cool-down after a cancel (its own tests are in cooldown.test.ts) is off.
const t = useTestApp({ env: { CONNECTION_REQUEST_COOLDOWN: '0' } });
const { alice, bob } = withUsers(t, 'alice', 'bob');

/** Rows between the pair, counted in the database itself: one record per pair, never two. */
function rowsBetween(): number {
  const db = new Database(join(t.dir, 'signalbox.db'), { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM connections').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Both sides' view: connected or not, and what each has pending. */
async function views() {
  return {
    alice: { connections: await connectionNames(t, alice), pending: await pendingPairs(t, alice) },
    bob: { connections: await connectionNames(t, bob), pending: await pendingPairs(t, bob) },
  };
}

const CONNECTED = {
  alice: { connections: ['bob'], pending: { incoming: [], outgoing: [] } },
  bob: { connections: ['alice'], pending: { incoming: [], outgoing: [] } },
};
const NOTHING = {
  alice: { connections: [], pending: { incoming: [], outgoing: [] } },
  bob: { connections: [], pending: { incoming: [], outgoing: [] } },
};

describe('concurrent calls from both sides', () => {
  it('crossing requests sent at once always end in one connection: one 201 and one 200', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const statuses = (await Promise.all([sendRequest(t, alice, bob), sendRequest(t, bob, alice)])).map((r) => r.status);
      expect(statuses.sort()).toEqual([200, 201]);
      expect(rowsBetween()).toBe(1);
      expect(await views()).toEqual(CONNECTED);
      expect((await removeConnection(t, alice, bob)).status).toBe(204);
    }
  });

  it('the same request sent many times at once stores one request: one 201, the rest 409', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const statuses = (await Promise.all(Array.from({ length: 4 }, () => sendRequest(t, alice, bob)))).map((r) => r.status);
      expect(statuses.sort()).toEqual([201, 409, 409, 409]);
      expect(rowsBetween()).toBe(1);
      expect((await removeConnection(t, alice, bob)).status).toBe(204);
    }
  });

  it('accept racing a cancel ends either connected or with nothing, the same for both sides', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await sendRequest(t, alice, bob);
      const [accepted, cancelled] = await Promise.all([respond(t, bob, alice, 'accept'), removeConnection(t, alice, bob)]);
      const view = await views();
      if (accepted.status === 200 && cancelled.status === 204) {
        // The accept came first and the DELETE then removed the connection.
        expect(view).toEqual(NOTHING);
      } else if (accepted.status === 200) {
        expect(view).toEqual(CONNECTED);
      } else {
        expect([accepted.status, cancelled.status]).toEqual([404, 204]);
        expect(view).toEqual(NOTHING);
      }
      expect(rowsBetween()).toBeLessThanOrEqual(1);
      await removeConnection(t, alice, bob);
    }
  });

  it('accept racing reject by the recipient: exactly one of them wins', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await sendRequest(t, alice, bob);
      const [accepted, rejected] = await Promise.all([respond(t, bob, alice, 'accept'), respond(t, bob, alice, 'reject')]);
      const winners = [accepted.status, rejected.status].filter((s) => s === 200);
      expect(winners).toHaveLength(1);
      expect(await views()).toEqual(accepted.status === 200 ? CONNECTED : NOTHING);
      await removeConnection(t, alice, bob);
    }
  });

  it('both sides removing the connection at once: one 204, one 404, nothing left', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await connect(t, alice, bob);
      const statuses = (await Promise.all([removeConnection(t, alice, bob), removeConnection(t, bob, alice)])).map((r) => r.status);
      expect(statuses.sort()).toEqual([204, 404]);
      expect(rowsBetween()).toBe(0);
      expect(await views()).toEqual(NOTHING);
    }
  });

  it('a mix of everything from both sides always leaves one consistent state', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      await Promise.all([
        sendRequest(t, alice, bob),
        sendRequest(t, bob, alice),
        respond(t, bob, alice, 'accept'),
        respond(t, alice, bob, 'accept'),
        removeConnection(t, alice, bob),
        sendRequest(t, alice, bob),
      ]);
      expect(rowsBetween()).toBeLessThanOrEqual(1);
      const view = await views();
      // Whatever won, the two sides agree: connected both ways, or one request seen from both ends, or nothing.
      const aliceConnected = view.alice.connections.includes('bob');
      expect(view.bob.connections.includes('alice')).toBe(aliceConnected);
      expect(view.alice.pending.outgoing.map((p) => p)).toEqual(view.bob.pending.incoming);
      expect(view.bob.pending.outgoing).toEqual(view.alice.pending.incoming);
      if (aliceConnected) expect(view.alice.pending).toEqual({ incoming: [], outgoing: [] });
      await removeConnection(t, alice, bob);
      await removeConnection(t, bob, alice);
    }
  });
});
