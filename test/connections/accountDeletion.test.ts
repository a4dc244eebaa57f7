import { describe, expect, it } from '@jest/globals';
import { connect, connectionNames, pendingPairs, sendRequest } from '../helpers/connections.js';
import { bearer, registerUser, type TestUser } from '../helpers/factories.js';
import { useTestApp, withUsers } from '../helpers/perTest.js';

const t = useTestApp();
const { alice, bob, carol, dave } = withUsers(t, 'alice', 'bob', 'carol', 'dave');

const deleteAccount = (u: TestUser) => t.http.delete('/users/me').set(bearer(u)).send({ password: u.password });

describe('DELETE /users/me and the connection graph', () => {
  it("removes the account's connections from the other side's list", async () => {
    await connect(t, alice, bob);
    await connect(t, carol, alice);
    expect((await deleteAccount(alice)).status).toBe(204);
    expect(await connectionNames(t, bob)).toEqual([]);
    expect(await connectionNames(t, carol)).toEqual([]);
  });

  it('removes the requests the account sent', async () => {
    await sendRequest(t, alice, bob);
    await deleteAccount(alice);
    expect(await pendingPairs(t, bob)).toEqual({ incoming: [], outgoing: [] });
  });

  it('removes the requests the account received', async () => {
    await sendRequest(t, bob, alice);
    await deleteAccount(alice);
    expect(await pendingPairs(t, bob)).toEqual({ incoming: [], outgoing: [] });
  });

  it('leaves connections between other users alone', async () => {
    await connect(t, alice, bob);
    await connect(t, carol, dave);
    await deleteAccount(alice);
    expect(await connectionNames(t, carol)).toEqual(['dave']);
  });

  it('leaves no record of the account in the store', async () => {
    await connect(t, alice, bob);
    await sendRequest(t, alice, carol);
    await sendRequest(t, dave, alice);
    await deleteAccount(alice);
    const now = new Date(t.clock.now());
    for (const other of [bob, carol, dave]) expect(await t.store.connections.find(alice.id, other.id, now)).toBeNull();
  });

  it('frees the pair: a new account with the same name starts unconnected', async () => {
    await connect(t, alice, bob);
    await deleteAccount(alice);
    const again = await registerUser(t, { username: 'alice' });
    expect(await connectionNames(t, again)).toEqual([]);
    expect((await sendRequest(t, again, bob)).status).toBe(201);
  });
});
