import { createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import { jwtVerify, SignJWT, type JWTHeaderParameters, type JWTPayload } from 'jose';
import { AccessTokens } from '../../app/accounts/tokens.js';
import { ManualClock } from '../helpers/clock.js';

const SECRET = Buffer.alloc(32, 7);
const OTHER_SECRET = Buffer.alloc(32, 8);
const NOW_MS = 1_800_000_000_000;
const NOW = NOW_MS / 1000;

/** What jose (the library the server verified with before, and still signs with) says of `token`. */
async function joseVerdict(token: string, clock: ManualClock): Promise<{ userId: string; sessionId: string } | null> {
  try {
    const { payload } = await jwtVerify(token, SECRET, {
      algorithms: ['HS256'],
      typ: 'JWT',
      issuer: 'signalbox',
      audience: 'signalbox',
      currentDate: new Date(clock.now()),
      requiredClaims: ['exp', 'sub', 'sid'],
    });
    if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string') return null;
    return { userId: payload.sub, sessionId: payload.sid };
  } catch {
    return null;
  }
}

const claims = (over: JWTPayload = {}): JWTPayload => ({ iss: 'signalbox', aud: 'signalbox', sub: 'u1', sid: 's1', iat: NOW, exp: NOW + 900, ...over });

async function make(payload: JWTPayload, header: Partial<JWTHeaderParameters> = {}, secret = SECRET): Promise<string> {
  return new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'JWT', ...header }).sign(secret);
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** A correctly signed token with any header (jose refuses to sign some of them). */
const forge = (header: Record<string, unknown>, payload: JWTPayload) => {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', SECRET).update(input).digest('base64url')}`;
};

/** Correctly signed tokens in a non-canonical encoding that jose's lenient decoder accepts and we refuse. */
const STRICTER = new Set(['signature with a padding character']);

/** Cases where both verifiers must refuse, and a few where both must accept. */
async function cases(): Promise<Array<[string, string]>> {
  const good = await make(claims());
  const [h, p, sig] = good.split('.') as [string, string, string];
  return [
    ['a token made by sign()', good],
    ['audience given as an array that includes ours', await make(claims({ aud: ['other', 'signalbox'] }))],
    ['typ in another case', await make(claims(), { typ: 'jwt' })],
    ['typ with the application/ prefix', await make(claims(), { typ: 'application/JWT' })],
    ['nbf in the past', await make(claims({ nbf: NOW - 10 }))],
    ['nbf exactly now', await make(claims({ nbf: NOW }))],
    ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`],
    ['alg HS512 under the same secret', await new SignJWT(claims()).setProtectedHeader({ alg: 'HS512', typ: 'JWT' }).sign(SECRET)],
    ['no typ', await make(claims(), { typ: undefined })],
    ['another typ', await make(claims(), { typ: 'at+jwt' })],
    ['another secret', await make(claims(), {}, OTHER_SECRET)],
    ['another issuer', await make(claims({ iss: 'evil' }))],
    ['another audience', await make(claims({ aud: 'evil' }))],
    ['no audience', await make(claims({ aud: undefined }))],
    ['expired a second ago', await make(claims({ exp: NOW - 1 }))],
    ['expiring exactly now', await make(claims({ exp: NOW }))],
    ['no exp', await make(claims({ exp: undefined }))],
    ['exp as a string', await make(claims({ exp: String(NOW + 900) as unknown as number }))],
    ['nbf in the future', await make(claims({ nbf: NOW + 10 }))],
    ['iat as a string', await make(claims({ iat: 'yesterday' as unknown as number }))],
    ['no sub', await make(claims({ sub: undefined }))],
    ['no sid', await make(claims({ sid: undefined }))],
    ['a crit header', forge({ alg: 'HS256', typ: 'JWT', crit: ['exp'] }, claims())],
    ['b64 false', forge({ alg: 'HS256', typ: 'JWT', b64: false, crit: ['b64'] }, claims())],
    ['payload changed after signing', `${h}.${b64({ ...claims(), sub: 'u2' })}.${sig}`],
    ['signature of another token', `${h}.${p}.${(await make(claims({ sub: 'u2' }))).split('.')[2]}`],
    ['signature cut short', `${h}.${p}.${sig.slice(0, -1)}`],
    ['signature with a padding character', `${h}.${p}.${sig}=`],
    ['a fourth segment', `${good}.x`],
    ['two segments', `${h}.${p}`],
    ['header not JSON', `${Buffer.from('nope').toString('base64url')}.${p}.${sig}`],
    ['payload a JSON array', `${h}.${b64([1, 2])}.${sig}`],
    ['empty string', ''],
  ];
}

describe('AccessTokens.verifySync (HS256 with node:crypto)', () => {
  it('agrees with jose on every case: what jose accepts it accepts with the same claims, what jose refuses it refuses', async () => {
    const clock = new ManualClock(NOW_MS);
    const tokens = new AccessTokens(SECRET, 900, clock);
    const all = await cases();
    const accepted: string[] = [];
    for (const [name, token] of all) {
      const ours = tokens.verifySync(token);
      const theirs = await joseVerdict(token, clock);
      // Stricter than jose on purpose: RFC 7515 base64url has no padding, and sign() never makes one.
      if (STRICTER.has(name)) expect({ name, ours, jose: theirs !== null }).toEqual({ name, ours: null, jose: true });
      else expect({ name, verdict: ours }).toEqual({ name, verdict: theirs });
      if (ours) accepted.push(name);
    }
    // The test would pass vacuously if everything were refused: these are the cases both accept.
    expect(accepted).toEqual([
      'a token made by sign()',
      'audience given as an array that includes ours',
      'typ in another case',
      'typ with the application/ prefix',
      'nbf in the past',
      'nbf exactly now',
    ]);
  });

  it('verifies what sign() makes, with its claims, until the second it expires', async () => {
    const clock = new ManualClock(NOW_MS + 300);
    const tokens = new AccessTokens(SECRET, 900, clock);
    const token = await tokens.sign({ userId: 'user-1', sessionId: 'session-1' });
    expect(tokens.verifySync(token)).toEqual({ userId: 'user-1', sessionId: 'session-1' });
    expect(await tokens.verify(token)).toEqual({ userId: 'user-1', sessionId: 'session-1' });
    clock.advance(899);
    expect(tokens.verifySync(token)).not.toBeNull();
    clock.advance(1);
    expect(tokens.verifySync(token)).toBeNull();
  });

  it("refuses another text carrying a remembered token's signature: the memo is found by signature, but only the exact text passes", async () => {
    const clock = new ManualClock(NOW_MS);
    const tokens = new AccessTokens(SECRET, 900, clock);
    const token = await tokens.sign({ userId: 'user-1', sessionId: 'session-1' });
    expect(tokens.verifySync(token)).toEqual({ userId: 'user-1', sessionId: 'session-1' }); // now remembered
    const [h, , sig] = token.split('.');
    const payload = Buffer.from(JSON.stringify({ iss: 'signalbox', aud: 'signalbox', sub: 'user-2', sid: 'session-2', exp: NOW + 900 })).toString('base64url');
    expect(tokens.verifySync(`${h}.${payload}.${sig}`)).toBeNull();
    expect(tokens.verifySync(`${token.slice(0, -sig!.length - 1)}X.${sig}`)).toBeNull();
    // The remembered token itself is unaffected.
    expect(tokens.verifySync(token)).toEqual({ userId: 'user-1', sessionId: 'session-1' });
  });
});
