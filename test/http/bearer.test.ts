import { describe, expect, it } from '@jest/globals';
import { AccessTokens } from '../../app/accounts/tokens.js';
import type { Caller } from '../../app/core/caller.js';
import { callerCheck, type TokenVerifier } from '../../app/http/authenticate.js';
import type { SessionRecord, SessionStore } from '../../app/store/types.js';
import { ManualClock } from '../helpers/clock.js';

const NOW_MS = Date.parse('2026-06-01T12:00:00Z');
const session: SessionRecord = {
  id: 'session-1',
  userId: 'user-1',
  createdAt: new Date(NOW_MS - 60_000),
  expiresAt: new Date(NOW_MS + 3_600_000),
  deviceNameEnc: null,
  devicePlatformEnc: null,
  lastSeen: null,
};
// Only findById is used by the check.
const sessions = { findById: async (id: string) => (id === session.id ? session : null) } as unknown as SessionStore;

/** The Authorization headers around a valid token that the check must refuse: the scheme's exact shape only. */
const refusedAround = (token: string) => [
  ['lower-case scheme', `bearer ${token}`],
  ['two spaces', `Bearer  ${token}`],
  ['a trailing space', `Bearer ${token} `],
  ['a trailing tab', `Bearer ${token}\t`],
  ['padding after the token', `Bearer ${token}=`],
  ['a character the scheme allows but a JWS never has', `Bearer ${token}~`],
  ['no space', `Bearer${token}`],
  ['the token alone', token],
  ['the scheme alone', 'Bearer '],
];

async function outcome(check: (authorization: string) => Promise<Caller>, authorization: string): Promise<Caller | number> {
  try {
    return await check(authorization);
  } catch (err) {
    return (err as { status: number }).status;
  }
}

describe('callerCheck: the Bearer header', () => {
  const clock = new ManualClock(NOW_MS);
  const tokens = new AccessTokens(Buffer.alloc(32, 3), 900, clock);
  // The same verifier seen only through its promise: the path that runs BEARER itself.
  const asyncOnly: TokenVerifier = { verify: (token) => tokens.verify(token) };

  it.each([
    ['verifySync (the pattern left to the verifier)', tokens],
    ['verify only (the pattern run)', asyncOnly],
  ])('with %s, accepts exactly `Bearer <token>` and refuses every other shape with 401', async (_name, verifier) => {
    const token = await tokens.sign({ userId: 'user-1', sessionId: 'session-1' });
    const check = callerCheck(verifier, sessions, clock, 30 * 86_400);
    // Twice: the second time the token is remembered, and must be refused the same way around it.
    for (let round = 0; round < 2; round++) {
      expect(await outcome(check, `Bearer ${token}`)).toEqual({ userId: 'user-1', sessionId: 'session-1' });
      for (const [name, header] of refusedAround(token)) expect({ name, result: await outcome(check, header!) }).toEqual({ name, result: 401 });
    }
  });
});
