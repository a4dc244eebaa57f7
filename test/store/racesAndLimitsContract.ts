import { randomUUID } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { MailboxEntry, Store } from '../../app/store/types.js';
import { freshStorePerTest, makeSession, makeUser, type OpenedStore } from './contract.js';
import { at, HOUR } from './contractTime.js';

const MINUTE = 60_000;

/**
 * Rules that hold under concurrency and at the limits, for one adapter (docs/architecture.md): each one was broken
 * on MongoDB by a write order, a read-then-check, or a document that grew with the mailbox.
 */
export function describeRacesAndLimitsContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract: races and limits`, () => {
    let store: Store;
    freshStorePerTest(open, (s) => (store = s));

    const addUser = async () => {
      const user = makeUser();
      await store.users.create(user);
      return user;
    };

    describe('reset codes under parallel guesses', () => {
      const MAX_TRIES = 5;
      const putCode = async (userId: string) => store.resetCodes.put({ userId, codeHash: 'right', createdAt: at(0), expiresAt: at(10 * MINUTE) });
      const guessAll = (userId: string, hashes: string[]) => Promise.all(hashes.map((hash, n) => store.resetCodes.redeem(userId, hash, at(1 + n), MAX_TRIES)));

      it('counts each of many parallel wrong guesses as one try: maxTries of them burn the code', async () => {
        const { id } = await addUser();
        await putCode(id);
        expect(
          await guessAll(
            id,
            Array.from({ length: MAX_TRIES }, (_, n) => `wrong-${n}`),
          ),
        ).toEqual(Array(MAX_TRIES).fill(false));
        expect(await store.resetCodes.redeem(id, 'right', at(100), MAX_TRIES)).toBe(false);
      });

      it('counts no more than one try per parallel guess: one fewer leaves the right code usable', async () => {
        const { id } = await addUser();
        await putCode(id);
        await guessAll(
          id,
          Array.from({ length: MAX_TRIES - 1 }, (_, n) => `wrong-${n}`),
        );
        expect(await store.resetCodes.redeem(id, 'right', at(100), MAX_TRIES)).toBe(true);
      });

      it('lets at most maxTries of many parallel guesses be compared, and at most one succeed', async () => {
        const { id } = await addUser();
        await putCode(id);
        // The right code among far more guesses than tries: whichever order they are taken in, only
        // the first maxTries are compared, so it succeeds at most once, and nothing is left to use after.
        const hashes = Array.from({ length: 4 * MAX_TRIES }, (_, n) => (n === 2 * MAX_TRIES ? 'right' : `wrong-${n}`));
        const results = await guessAll(id, hashes);
        expect(results.filter(Boolean).length).toBeLessThanOrEqual(1);
        expect(await store.resetCodes.redeem(id, 'right', at(100), MAX_TRIES)).toBe(false);
      });
    });

    describe('account deletion racing a sign-in and a refresh', () => {
      it('leaves no live session of the deleted account, whatever the interleaving', async () => {
        // Several accounts at once, so the three operations interleave differently in each.
        await Promise.all(
          Array.from({ length: 8 }, async () => {
            const user = await addUser();
            const first = makeSession(user.id);
            expect(await store.sessions.create(first, `r1-${first.id}`)).toBe(true);
            const second = makeSession(user.id);
            await Promise.all([
              store.users.delete(user.id),
              store.sessions.create(second, `r2-${second.id}`),
              store.sessions.rotateRefreshToken(`r1-${first.id}`, `r1b-${first.id}`, at(1), at(2 * HOUR)),
            ]);
            expect(await store.users.findById(user.id)).toBeNull();
            expect(await store.sessions.listByUser(user.id, at(1))).toEqual([]);
            expect(await store.sessions.findById(first.id)).toBeNull();
            expect(await store.sessions.findById(second.id)).toBeNull();
            // Nor can any refresh token bring one back.
            for (const token of [`r1-${first.id}`, `r1b-${first.id}`, `r2-${second.id}`]) {
              expect((await store.sessions.rotateRefreshToken(token, `again-${randomUUID()}`, at(2), at(3 * HOUR))).outcome).not.toBe('rotated');
            }
          }),
        );
      });
    });

    describe('a mailbox near MAILBOX_MAX with large payloads', () => {
      it('is written whole and read back in bounded pages, in order, payloads intact', async () => {
        // 320 entries of 64 KiB: 20 MiB in one device's mailbox, past MongoDB's 16 MiB document limit.
        const MAX = 320;
        const PAGE = 50;
        const big = (n: number) => `${String(n).padStart(4, '0')}:${'x'.repeat(64 * 1024)}`;
        const alice = await addUser();
        const bob = await addUser();
        const sender = makeSession(alice.id);
        const device = makeSession(bob.id);
        await store.sessions.create(sender, `r-${sender.id}`);
        await store.sessions.create(device, `r-${device.id}`);
        const entry = (n: number): MailboxEntry => ({
          id: randomUUID(),
          senderId: alice.id,
          senderUsername: alice.username,
          senderDeviceId: sender.id,
          type: 'custom',
          payload: big(n),
          sessionId: null,
          createdAt: at(0),
          expiresAt: at(HOUR),
        });
        const send = (n: number) => store.signals.send({ signal: entry(n), toUserId: bob.id, now: at(0), limits: { max: MAX, perSender: MAX } });

        for (let n = 0; n < MAX; n++) expect(await send(n)).toEqual({ outcome: 'stored', devices: [device.id] });
        expect(await send(MAX)).toEqual({ outcome: 'refused', reason: 'mailbox_full' });

        const read: string[] = [];
        let lastSeq = 0;
        for (;;) {
          const page = await store.signals.pending(device.id, at(1), PAGE);
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(PAGE);
          for (const s of page) {
            expect(s.seq).toBeGreaterThan(lastSeq);
            lastSeq = s.seq;
            read.push(s.payload);
          }
          expect(await store.signals.ack(device.id, lastSeq)).toBe(page.length);
        }
        expect(read).toEqual(Array.from({ length: MAX }, (_, n) => big(n)));
        // Acknowledged, the room is there again.
        expect((await send(MAX)).outcome).toBe('stored');
      });
    });

    describe('writes for a user that does not exist', () => {
      it('presence: a touch or sign-out of an unknown user stores nothing', async () => {
        const ghost = randomUUID();
        await store.presence.touch(ghost, at(1));
        await store.presence.signOut(ghost, at(2));
        expect(await store.presence.find([ghost])).toEqual([]);
      });

      it('presence: a touch racing the account deletion leaves nothing behind', async () => {
        const users = await Promise.all(Array.from({ length: 8 }, () => addUser()));
        await Promise.all(users.flatMap((u) => [store.users.delete(u.id), store.presence.touch(u.id, at(1))]));
        expect(await store.presence.find(users.map((u) => u.id))).toEqual([]);
      });

      it('2FA: setting up a factor for an unknown user answers false and stores nothing', async () => {
        const ghost = randomUUID();
        expect(await store.twoFactor.setPending(ghost, 'secret')).toBe(false);
        expect(await store.twoFactor.get(ghost)).toBeNull();
      });

      it('2FA: a setup racing the account deletion leaves nothing behind', async () => {
        const users = await Promise.all(Array.from({ length: 8 }, () => addUser()));
        await Promise.all(users.flatMap((u) => [store.users.delete(u.id), store.twoFactor.setPending(u.id, 'secret')]));
        for (const u of users) expect(await store.twoFactor.get(u.id)).toBeNull();
      });
    });

    describe('connection requests at the limit', () => {
      it('freesAt names the oldest request already out, never the one being made', async () => {
        const [a, b, c, d] = [await addUser(), await addUser(), await addUser(), await addUser()];
        const ask = (to: string, expiresAt: Date) =>
          store.connections.request({ id: randomUUID(), fromId: a.id, toId: to, message: null, now: at(0), expiresAt, maxPending: 2 });
        await ask(b.id, at(HOUR));
        await ask(c.id, at(30 * MINUTE));
        // This one would lapse first of all, were it stored: it must not be the answer.
        expect(await ask(d.id, at(MINUTE))).toEqual({ outcome: 'limit', freesAt: at(30 * MINUTE) });
        expect(await store.connections.find(a.id, d.id, at(1))).toBeNull();
      });
    });
  });
}
