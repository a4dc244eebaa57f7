import { randomUUID } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { DuplicateError, type PgpKeyRecord, type SessionRecord, type Store, type UserRecord } from '../../app/store/types.js';
import { describeConnectionStoreContract } from './connectionsContract.js';
import { at, HOUR, T0 } from './contractTime.js';

/** What a contract run needs: a fresh, empty store and a way to dispose of it afterwards. */
export interface OpenedStore {
  store: Store;
  cleanup: () => Promise<void>;
}

let seq = 0;
/** A unique suffix so records never collide, even if an adapter's data outlived a test. */
const unique = () => `${++seq}_${randomUUID().slice(0, 8)}`;

/** A user record with unique fields; every field set, so the round trip is checked for all of them. */
export function makeUser(overrides: Partial<UserRecord> = {}): UserRecord {
  const n = unique();
  return {
    id: randomUUID(),
    username: `user_${n}`,
    emailIndex: `idx_${n}`,
    emailEnc: `enc_${n}`,
    birthdayEnc: `bday_${n}`,
    passwordHash: `$argon2id$hash_${n}`,
    createdAt: at(0),
    pgp: null,
    disabledAt: null,
    ...overrides,
  };
}

/** Stores a user record (makeUser with `overrides`) and returns it, for tests about something else. */
export async function storeUser(store: Store, overrides: Partial<UserRecord> = {}): Promise<UserRecord> {
  const user = makeUser(overrides);
  await store.users.create(user);
  return user;
}

/** A stored-key record; the store treats it as opaque data, so it need not be a real key. */
export function makePgpKey(overrides: Partial<PgpKeyRecord> = {}): PgpKeyRecord {
  const n = unique();
  return {
    fingerprint: `F${n.replace(/[^0-9A-F]/gi, '').toUpperCase()}`.padEnd(40, '0').slice(0, 40),
    algorithm: 'ed25519',
    createdAt: at(-HOUR),
    expiresAt: at(24 * HOUR),
    publicKey: `-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n${n}\n-----END PGP PUBLIC KEY BLOCK-----\n`,
    ...overrides,
  };
}

/** A session of `userId` created at T0 that lives for one hour unless overridden. */
export function makeSession(userId: string, overrides: Partial<SessionRecord> = {}): SessionRecord {
  const n = unique();
  return {
    id: randomUUID(),
    userId,
    createdAt: at(0),
    expiresAt: at(HOUR),
    deviceNameEnc: `device_name_${n}`,
    devicePlatformEnc: `device_platform_${n}`,
    lastSeen: null,
    ...overrides,
  };
}

const token = () => `refresh_${unique()}`;

/**
 * Opens a fresh store before each test of the enclosing describe and disposes of it after, handing
 * each new store to `use`. Cleanup is skipped when open() failed, so its real error is reported.
 */
export function freshStorePerTest(open: () => Promise<OpenedStore>, use: (store: Store) => void): void {
  let cleanup: (() => Promise<void>) | undefined;
  beforeEach(async () => {
    cleanup = undefined;
    const opened = await open();
    cleanup = opened.cleanup;
    use(opened.store);
  });
  afterEach(async () => {
    await cleanup?.();
  });
}

/**
 * Registers the shared contract of the Store interfaces (app/store/types.ts) for one adapter.
 * `open` must return a fresh, empty store for every test.
 */
export function describeStoreContract(label: string, open: () => Promise<OpenedStore>): void {
  describe(`${label} store contract`, () => {
    let store: Store;
    freshStorePerTest(open, (s) => (store = s));

    const aUser = (overrides?: Partial<UserRecord>) => storeUser(store, overrides);

    /** Stores a session (with its first refresh token) for a new user unless one is given. */
    const aSession = async (overrides: Partial<SessionRecord> & { userId?: string } = {}) => {
      const userId = overrides.userId ?? (await aUser()).id;
      const session = makeSession(userId, overrides);
      const refresh = token();
      expect(await store.sessions.create(session, refresh)).toBe(true);
      return { session, refresh, userId };
    };

    describe('Store', () => {
      it('ping resolves on an open store', async () => {
        await expect(store.ping()).resolves.toBeUndefined();
      });
    });

    describe('users', () => {
      it('finds a created user by id with every field intact, dates as equal Dates', async () => {
        const user = await aUser({ birthdayEnc: 'bday-ciphertext', createdAt: new Date(T0 + 123) });
        const found = await store.users.findById(user.id);
        expect(found).toEqual(user);
        expect(found?.createdAt).toBeInstanceOf(Date);
      });

      it('keeps a null birthday as null', async () => {
        const user = await aUser({ birthdayEnc: null });
        expect((await store.users.findById(user.id))?.birthdayEnc).toBeNull();
      });

      it('finds a created user by username', async () => {
        const user = await aUser();
        expect(await store.users.findByUsername(user.username)).toEqual(user);
      });

      it('finds a created user by e-mail index', async () => {
        const user = await aUser();
        expect(await store.users.findByEmailIndex(user.emailIndex)).toEqual(user);
      });

      it('answers null for an unknown id, username or e-mail index', async () => {
        await aUser();
        expect(await store.users.findById(randomUUID())).toBeNull();
        expect(await store.users.findByUsername('nobody')).toBeNull();
        expect(await store.users.findByEmailIndex('no-such-index')).toBeNull();
      });

      it("refuses a taken username with DuplicateError('username') and stores nothing", async () => {
        const first = await aUser();
        const second = makeUser({ username: first.username });
        const err = await store.users.create(second).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DuplicateError);
        expect((err as DuplicateError).field).toBe('username');
        expect(await store.users.findById(second.id)).toBeNull();
        expect(await store.users.findByEmailIndex(second.emailIndex)).toBeNull();
        expect(await store.users.findByUsername(first.username)).toEqual(first);
      });

      it("refuses a taken e-mail index with DuplicateError('email') and stores nothing", async () => {
        const first = await aUser();
        const second = makeUser({ emailIndex: first.emailIndex });
        const err = await store.users.create(second).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(DuplicateError);
        expect((err as DuplicateError).field).toBe('email');
        expect(await store.users.findById(second.id)).toBeNull();
        expect(await store.users.findByUsername(second.username)).toBeNull();
        expect(await store.users.findByEmailIndex(first.emailIndex)).toEqual(first);
      });

      it('setPasswordHash replaces the hash and answers true', async () => {
        const user = await aUser();
        expect(await store.users.setPasswordHash(user.id, '$argon2id$new')).toBe(true);
        expect(await store.users.findById(user.id)).toEqual({ ...user, passwordHash: '$argon2id$new' });
      });

      it('setPasswordHash answers false for an unknown user and creates nothing', async () => {
        const id = randomUUID();
        expect(await store.users.setPasswordHash(id, '$argon2id$new')).toBe(false);
        expect(await store.users.findById(id)).toBeNull();
      });

      it('delete removes the user and answers true', async () => {
        const user = await aUser();
        expect(await store.users.delete(user.id)).toBe(true);
        expect(await store.users.findById(user.id)).toBeNull();
        expect(await store.users.findByUsername(user.username)).toBeNull();
        expect(await store.users.findByEmailIndex(user.emailIndex)).toBeNull();
      });

      it('delete answers false for an unknown user', async () => {
        expect(await store.users.delete(randomUUID())).toBe(false);
      });

      it('delete leaves other users alone', async () => {
        const gone = await aUser();
        const kept = await aUser();
        await store.users.delete(gone.id);
        expect(await store.users.findById(kept.id)).toEqual(kept);
      });

      it('delete frees the username and e-mail index for a new account', async () => {
        const gone = await aUser();
        await store.users.delete(gone.id);
        const again = makeUser({ username: gone.username, emailIndex: gone.emailIndex });
        await store.users.create(again);
        expect(await store.users.findByUsername(gone.username)).toEqual(again);
      });

      it("delete ends the user's sessions", async () => {
        const { session, userId } = await aSession();
        const second = await aSession({ userId });
        await store.users.delete(userId);
        expect(await store.sessions.findById(session.id)).toBeNull();
        expect(await store.sessions.findById(second.session.id)).toBeNull();
      });

      it("delete removes the user's refresh tokens, so even a used one is just invalid", async () => {
        // A used token that survived the cascade would answer 'reused'; a removed one answers 'invalid'.
        const { refresh, userId } = await aSession();
        const newer = token();
        expect((await store.sessions.rotateRefreshToken(refresh, newer, at(1), at(2 * HOUR))).outcome).toBe('rotated');
        await store.users.delete(userId);
        expect(await store.sessions.rotateRefreshToken(refresh, token(), at(2), at(2 * HOUR))).toEqual({ outcome: 'invalid' });
        expect(await store.sessions.rotateRefreshToken(newer, token(), at(2), at(2 * HOUR))).toEqual({ outcome: 'invalid' });
      });

      it("delete leaves other users' sessions alone", async () => {
        const mine = await aSession();
        const theirs = await aSession();
        await store.users.delete(mine.userId);
        expect(await store.sessions.findById(theirs.session.id)).toEqual(theirs.session);
      });
    });

    describe('users: OpenPGP keys', () => {
      it('create keeps a key with every field intact', async () => {
        const user = await aUser({ pgp: makePgpKey() });
        expect(await store.users.findById(user.id)).toEqual(user);
      });

      it('setPgpKey stores the key and answers true', async () => {
        const user = await aUser();
        const key = makePgpKey();
        expect(await store.users.setPgpKey(user.id, key)).toBe(true);
        expect(await store.users.findById(user.id)).toEqual({ ...user, pgp: key });
      });

      it('setPgpKey keeps a null expiry as null', async () => {
        const user = await aUser();
        await store.users.setPgpKey(user.id, makePgpKey({ expiresAt: null }));
        expect((await store.users.findById(user.id))?.pgp?.expiresAt).toBeNull();
      });

      it('setPgpKey replaces an earlier key', async () => {
        const user = await aUser({ pgp: makePgpKey() });
        const newer = makePgpKey({ algorithm: 'rsa4096' });
        await store.users.setPgpKey(user.id, newer);
        expect((await store.users.findByUsername(user.username))?.pgp).toEqual(newer);
      });

      it('setPgpKey with null removes the key', async () => {
        const user = await aUser({ pgp: makePgpKey() });
        expect(await store.users.setPgpKey(user.id, null)).toBe(true);
        expect(await store.users.findById(user.id)).toEqual({ ...user, pgp: null });
      });

      it('setPgpKey answers false for an unknown user and creates nothing', async () => {
        const id = randomUUID();
        expect(await store.users.setPgpKey(id, makePgpKey())).toBe(false);
        expect(await store.users.findById(id)).toBeNull();
      });
    });

    describe('users: search', () => {
      /** Stores users with these names (fresh store per test, so fixed names cannot collide). */
      const named = async (...names: string[]) => {
        const users: UserRecord[] = [];
        for (const username of names) users.push(await aUser({ username }));
        return users;
      };
      const nobody = randomUUID();

      it('finds the users whose username starts with the prefix, sorted by username', async () => {
        await named('carol', 'alice', 'bob', 'alfred', 'albert');
        expect((await store.users.search('al', nobody, 10)).map((h) => h.username)).toEqual(['albert', 'alfred', 'alice']);
      });

      it('matches a prefix equal to the whole username', async () => {
        await named('alice', 'alicent');
        expect((await store.users.search('alice', nobody, 10)).map((h) => h.username)).toEqual(['alice', 'alicent']);
      });

      it('treats _ as an ordinary character, not a wildcard', async () => {
        await named('a_b', 'axb', 'a_c', 'ab_');
        expect((await store.users.search('a_', nobody, 10)).map((h) => h.username)).toEqual(['a_b', 'a_c']);
      });

      it('sorts _ and digits by their code points (0-9 < _ < a-z)', async () => {
        await named('xa1', 'x_1', 'x91');
        expect((await store.users.search('x', nobody, 10)).map((h) => h.username)).toEqual(['x91', 'x_1', 'xa1']);
      });

      it('includes names just below the range end when the prefix ends in z, 9 or _', async () => {
        // The upper bound bumps the last character; these names sit right at that edge.
        await named('zzz', 'zy1', 'q99', 'q9a', 'r__', 'r_a', 'raa');
        expect((await store.users.search('zz', nobody, 10)).map((h) => h.username)).toEqual(['zzz']);
        expect((await store.users.search('q9', nobody, 10)).map((h) => h.username)).toEqual(['q99', 'q9a']);
        expect((await store.users.search('r_', nobody, 10)).map((h) => h.username)).toEqual(['r__', 'r_a']);
      });

      it('leaves out the excluded user', async () => {
        const [me] = await named('alice', 'alicia');
        expect((await store.users.search('ali', me!.id, 10)).map((h) => h.username)).toEqual(['alicia']);
      });

      it('answers at most limit hits, the first ones in order', async () => {
        await named('dan', 'dana', 'danb', 'danc');
        expect((await store.users.search('dan', nobody, 2)).map((h) => h.username)).toEqual(['dan', 'dana']);
      });

      it('answers an empty list when nobody matches', async () => {
        await named('alice');
        expect(await store.users.search('bo', nobody, 10)).toEqual([]);
      });

      it('answers the key fingerprint, or null, and nothing else', async () => {
        const key = makePgpKey();
        await aUser({ username: 'keyed', pgp: key });
        await aUser({ username: 'keyless' });
        expect(await store.users.search('key', nobody, 10)).toEqual([
          { username: 'keyed', fingerprint: key.fingerprint },
          { username: 'keyless', fingerprint: null },
        ]);
      });
    });

    describe('sessions', () => {
      it('finds a created session by id, dates as equal Dates', async () => {
        const { session } = await aSession({ createdAt: new Date(T0 + 7), expiresAt: new Date(T0 + HOUR + 9) });
        const found = await store.sessions.findById(session.id);
        expect(found).toEqual(session);
        expect(found?.expiresAt).toBeInstanceOf(Date);
      });

      it('answers null for an unknown session id', async () => {
        expect(await store.sessions.findById(randomUUID())).toBeNull();
      });

      it('create answers false and stores nothing when the user does not exist', async () => {
        const session = makeSession(randomUUID());
        const refresh = token();
        expect(await store.sessions.create(session, refresh)).toBe(false);
        expect(await store.sessions.findById(session.id)).toBeNull();
        // The refresh token must not have been kept either.
        expect(await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(2 * HOUR))).toEqual({ outcome: 'invalid' });
      });

      it('delete removes the session and answers true', async () => {
        const { session } = await aSession();
        expect(await store.sessions.delete(session.id)).toBe(true);
        expect(await store.sessions.findById(session.id)).toBeNull();
      });

      it('delete answers false for an unknown session', async () => {
        expect(await store.sessions.delete(randomUUID())).toBe(false);
      });

      describe('rotateRefreshToken', () => {
        it("answers 'rotated' with the session extended to the new expiry", async () => {
          const { session, refresh } = await aSession();
          const result = await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(3 * HOUR));
          expect(result).toEqual({ outcome: 'rotated', session: { ...session, expiresAt: at(3 * HOUR) } });
        });

        it('stores the extended expiry on the session', async () => {
          const { session, refresh } = await aSession();
          await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(3 * HOUR));
          expect(await store.sessions.findById(session.id)).toEqual({ ...session, expiresAt: at(3 * HOUR) });
        });

        it('accepts the new token for the next rotation', async () => {
          const { session, refresh } = await aSession();
          const second = token();
          await store.sessions.rotateRefreshToken(refresh, second, at(1), at(2 * HOUR));
          const result = await store.sessions.rotateRefreshToken(second, token(), at(2), at(3 * HOUR));
          expect(result).toEqual({ outcome: 'rotated', session: { ...session, expiresAt: at(3 * HOUR) } });
        });

        it("answers 'reused' with the session id when an already-rotated token is presented", async () => {
          const { session, refresh } = await aSession();
          await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(2 * HOUR));
          const result = await store.sessions.rotateRefreshToken(refresh, token(), at(2), at(2 * HOUR));
          expect(result).toEqual({ outcome: 'reused', sessionId: session.id });
        });

        it('ends the session when an already-rotated token is presented', async () => {
          const { session, refresh } = await aSession();
          await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(2 * HOUR));
          await store.sessions.rotateRefreshToken(refresh, token(), at(2), at(2 * HOUR));
          expect(await store.sessions.findById(session.id)).toBeNull();
        });

        it("makes the newest token 'invalid' once reuse ended the session", async () => {
          const { refresh } = await aSession();
          const newest = token();
          await store.sessions.rotateRefreshToken(refresh, newest, at(1), at(2 * HOUR));
          await store.sessions.rotateRefreshToken(refresh, token(), at(2), at(2 * HOUR));
          expect(await store.sessions.rotateRefreshToken(newest, token(), at(3), at(2 * HOUR))).toEqual({ outcome: 'invalid' });
        });

        it('ends only the session whose token was reused', async () => {
          const { refresh, userId } = await aSession();
          const other = await aSession({ userId });
          await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(2 * HOUR));
          await store.sessions.rotateRefreshToken(refresh, token(), at(2), at(2 * HOUR));
          expect(await store.sessions.findById(other.session.id)).toEqual(other.session);
        });

        it("answers 'invalid' for an unknown token", async () => {
          await aSession();
          expect(await store.sessions.rotateRefreshToken('no-such-token', token(), at(1), at(2 * HOUR))).toEqual({ outcome: 'invalid' });
        });

        it("answers 'invalid' for a token presented exactly at its expiry", async () => {
          const { refresh } = await aSession({ expiresAt: at(HOUR) });
          expect(await store.sessions.rotateRefreshToken(refresh, token(), at(HOUR), at(3 * HOUR))).toEqual({ outcome: 'invalid' });
        });

        it("answers 'invalid' for a token presented after its expiry", async () => {
          const { refresh } = await aSession({ expiresAt: at(HOUR) });
          expect(await store.sessions.rotateRefreshToken(refresh, token(), at(HOUR + 1), at(3 * HOUR))).toEqual({ outcome: 'invalid' });
        });

        it('changes nothing when the token has expired', async () => {
          const { session, refresh } = await aSession({ expiresAt: at(HOUR) });
          const refused = token();
          await store.sessions.rotateRefreshToken(refresh, refused, at(HOUR), at(3 * HOUR));
          expect(await store.sessions.findById(session.id)).toEqual(session);
          // The would-be successor was not stored, and the expired token was not marked used (not 'reused').
          expect(await store.sessions.rotateRefreshToken(refused, token(), at(1), at(3 * HOUR))).toEqual({ outcome: 'invalid' });
          expect(await store.sessions.rotateRefreshToken(refresh, token(), at(HOUR), at(3 * HOUR))).toEqual({ outcome: 'invalid' });
        });

        it("answers 'invalid' once the session was deleted", async () => {
          const { session, refresh } = await aSession();
          await store.sessions.delete(session.id);
          expect(await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(2 * HOUR))).toEqual({ outcome: 'invalid' });
        });

        it("answers 'invalid', not 'reused', for an already-rotated token of a deleted session", async () => {
          // Logout must forget the session's used tokens too, or replaying one would look like theft.
          const { session, refresh } = await aSession();
          await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(2 * HOUR));
          await store.sessions.delete(session.id);
          expect(await store.sessions.rotateRefreshToken(refresh, token(), at(2), at(2 * HOUR))).toEqual({ outcome: 'invalid' });
        });

        it("lets exactly one of two concurrent rotations of the same token answer 'rotated'", async () => {
          const { refresh } = await aSession();
          const results = await Promise.all([
            store.sessions.rotateRefreshToken(refresh, token(), at(1), at(2 * HOUR)),
            store.sessions.rotateRefreshToken(refresh, token(), at(1), at(2 * HOUR)),
          ]);
          expect(results.filter((r) => r.outcome === 'rotated')).toHaveLength(1);
        });
      });

      describe('deleteByUser', () => {
        it('ends every session of the user and answers how many', async () => {
          const { userId, session } = await aSession();
          const second = await aSession({ userId });
          const third = await aSession({ userId });
          expect(await store.sessions.deleteByUser(userId)).toBe(3);
          for (const s of [session, second.session, third.session]) expect(await store.sessions.findById(s.id)).toBeNull();
        });

        it('keeps the session named by keepSessionId and does not count it', async () => {
          const { userId, session: kept } = await aSession();
          const gone = await aSession({ userId });
          expect(await store.sessions.deleteByUser(userId, kept.id)).toBe(1);
          expect(await store.sessions.findById(kept.id)).toEqual(kept);
          expect(await store.sessions.findById(gone.session.id)).toBeNull();
        });

        it('makes the refresh tokens of the ended sessions invalid', async () => {
          const { userId, refresh } = await aSession();
          await store.sessions.deleteByUser(userId);
          expect(await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(2 * HOUR))).toEqual({ outcome: 'invalid' });
        });

        it('leaves the refresh token of the kept session working', async () => {
          const { userId, session: kept, refresh } = await aSession();
          await aSession({ userId });
          await store.sessions.deleteByUser(userId, kept.id);
          expect((await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(2 * HOUR))).outcome).toBe('rotated');
        });

        it("leaves other users' sessions alone", async () => {
          const mine = await aSession();
          const theirs = await aSession();
          await store.sessions.deleteByUser(mine.userId);
          expect(await store.sessions.findById(theirs.session.id)).toEqual(theirs.session);
        });

        it('answers 0 for a user without sessions', async () => {
          const user = await aUser();
          expect(await store.sessions.deleteByUser(user.id)).toBe(0);
        });
      });

      describe('purgeExpired', () => {
        it('removes expired sessions and answers how many', async () => {
          const { userId, session: a } = await aSession({ expiresAt: at(HOUR) });
          const b = await aSession({ userId, expiresAt: at(HOUR - 1) });
          expect(await store.sessions.purgeExpired(at(2 * HOUR))).toBe(2);
          expect(await store.sessions.findById(a.id)).toBeNull();
          expect(await store.sessions.findById(b.session.id)).toBeNull();
        });

        it('counts a session expiring exactly at now as expired', async () => {
          const { session } = await aSession({ expiresAt: at(HOUR) });
          expect(await store.sessions.purgeExpired(at(HOUR))).toBe(1);
          expect(await store.sessions.findById(session.id)).toBeNull();
        });

        it('keeps sessions that have not expired, with working refresh tokens', async () => {
          const { userId } = await aSession({ expiresAt: at(HOUR) });
          const live = await aSession({ userId, expiresAt: at(3 * HOUR) });
          expect(await store.sessions.purgeExpired(at(2 * HOUR))).toBe(1);
          expect(await store.sessions.findById(live.session.id)).toEqual(live.session);
          expect((await store.sessions.rotateRefreshToken(live.refresh, token(), at(2 * HOUR), at(4 * HOUR))).outcome).toBe('rotated');
        });

        it('answers 0 when nothing has expired', async () => {
          await aSession({ expiresAt: at(HOUR) });
          expect(await store.sessions.purgeExpired(at(1))).toBe(0);
        });

        it('forgets expired used tokens of a live session, so replaying one no longer ends it', async () => {
          // The first token expired at 1h; rotation extended the session to 3h. After the purge the old
          // token is unknown ('invalid') rather than a reuse that would end the still-valid session.
          const { session, refresh } = await aSession({ expiresAt: at(HOUR) });
          await store.sessions.rotateRefreshToken(refresh, token(), at(1), at(3 * HOUR));
          expect(await store.sessions.purgeExpired(at(2 * HOUR))).toBe(0);
          expect(await store.sessions.rotateRefreshToken(refresh, token(), at(2 * HOUR), at(4 * HOUR))).toEqual({ outcome: 'invalid' });
          expect(await store.sessions.findById(session.id)).toEqual({ ...session, expiresAt: at(3 * HOUR) });
        });
      });
    });

    // The connection graph and presence, in their own module (test/store/connectionsContract.ts).
    describeConnectionStoreContract({ store: () => store, aUser: () => aUser() });
  });
}
