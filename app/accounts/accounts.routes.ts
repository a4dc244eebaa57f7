import { defaultOf } from '../config/defaults.js';
import type { RateLimiter } from '../core/rateLimiter.js';
import { caller, originOf, type AppContext } from '../http/context.js';
import { limitByIp } from '../http/rateLimit.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import type { FieldCipher } from '../lib/fieldCipher.js';
import { pgpSchema, presentPgp } from '../users/users.presenter.js';
import { presentOwnUser } from './accounts.presenter.js';
import type { AccountService, TokenGrant } from './accounts.service.js';
import { changePasswordBody, emptyBody, loginBody, pgpKeyBody, refreshBody, registerBody, tokenResponse } from './accounts.schema.js';
import { z } from 'zod';

const TAG = 'Auth';

export function accountRoutes(accounts: AccountService, cipher: FieldCipher, limiter: RateLimiter): AnyRoute[] {
  const countKeyUploadByIp = limitByIp(limiter, 'pgpUploadPerIp');
  const sendGrant = (ctx: AppContext, status: number, grant: TokenGrant) => {
    ctx.status = status;
    ctx.body = {
      user: presentOwnUser(grant.user, cipher, grant.twoFactor),
      accessToken: grant.accessToken,
      refreshToken: grant.refreshToken,
      tokenType: 'Bearer',
      expiresIn: grant.expiresIn,
      deviceId: grant.deviceId,
    };
  };

  return [
    defineRoute({
      method: 'post',
      path: '/auth/register',
      tag: TAG,
      summary: 'Create an account and sign in',
      auth: false,
      body: registerBody,
      responses: { 201: { description: 'The new account and its first token pair.', schema: tokenResponse } },
      errors: ['username_taken', 'email_taken', 'rate_limited', 'invalid_pgp_key', 'unavailable'],
      before: [limitByIp(limiter, 'registerPerIp')],
      handler: async (ctx, { body }) => {
        const register = async () => sendGrant(ctx, 201, await accounts.register(body, limiter.networkOf(ctx.ip)));
        // A key checked at registration costs what an upload costs, so it counts against the same per-IP limit.
        if (body.pgpPublicKey != null) await countKeyUploadByIp(ctx, register);
        else await register();
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/login',
      tag: TAG,
      summary: 'Sign in with username, @username or e-mail address',
      description:
        'Wrong password and unknown account get the same answer, 401 invalid_credentials, in about the same time. With two-factor ' +
        'authentication on, the right password without `totp` is 401 totp_required, and with a wrong or already-used code ' +
        '400 invalid_totp. Each attempt is counted before ' +
        'the password is checked, against the account however it is named (username, @username or e-mail address), and ' +
        'given back when it succeeds; a wrong TOTP code counts like a wrong password, and wrong codes after a right password ' +
        `are also limited per account from networks it has not registered or signed in from (RATE_LOGIN_TOTP, default ${defaultOf('RATE_LOGIN_TOTP')}; past it ` +
        'the code is not checked and the answer is 400 invalid_totp, as for a wrong code). Limits: per account from one client ' +
        `network (an IPv4 address or IPv6 /${defaultOf('RATE_IPV6_PREFIX')} by default, RATE_IPV6_PREFIX; RATE_LOGIN_ACCOUNT_IP, default ${defaultOf('RATE_LOGIN_ACCOUNT_IP')}), per account from everywhere ` +
        `(RATE_LOGIN_USERNAME, default ${defaultOf('RATE_LOGIN_USERNAME')}; not applied on a network the account registered or signed in from within ` +
        'SESSION_MAX_AGE) and all attempts per client network (RATE_LOGIN_IP). Past a limit even the right password gets ' +
        '429 with Retry-After until its window ends, so a stranger guessing from one network locks out only that network. ' +
        '429 also when one network has too many password checks running at once.',
      auth: false,
      body: loginBody,
      responses: { 200: { description: 'A new session.', schema: tokenResponse } },
      errors: ['invalid_credentials', 'totp_required', 'invalid_totp', 'rate_limited'],
      before: [limitByIp(limiter, 'loginPerIp')],
      handler: async (ctx, { body }) =>
        sendGrant(ctx, 200, await accounts.login(body.username, body.password, body.totp, limiter.networkOf(ctx.ip), body.device, ctx.ip)),
    }),
    defineRoute({
      method: 'post',
      path: '/auth/refresh',
      tag: TAG,
      summary: 'Swap a refresh token for a new token pair',
      description: 'The old refresh token stops working. Presenting an already-used one ends the whole session.',
      auth: false,
      body: refreshBody,
      responses: { 200: { description: 'A new token pair for the same session.', schema: tokenResponse } },
      errors: ['unauthorized'],
      handler: async (ctx, { body }) => sendGrant(ctx, 200, await accounts.refresh(body.refreshToken)),
    }),
    defineRoute({
      method: 'post',
      path: '/auth/logout',
      tag: TAG,
      summary: 'End this session',
      description: 'The access and refresh tokens of this session stop working at once.',
      auth: true,
      body: emptyBody,
      responses: { 204: { description: 'Signed out.' } },
      handler: async (ctx) => {
        await accounts.logout(caller(ctx), originOf(ctx));
        ctx.status = 204;
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/change-password',
      tag: TAG,
      summary: 'Change the password',
      description:
        'Every other session of the account ends; this one continues, and the address on file gets a notice. A wrong ' +
        'current password is 403 invalid_password (never 401, which means the token). Checks of ' +
        `the current password are counted per user before checking (RATE_PASSWORD_CHECK_USER, default ${defaultOf('RATE_PASSWORD_CHECK_USER')}, ` +
        'shared with DELETE /users/me and 2FA enable/disable; a right password is not counted): past it, 429.',
      auth: true,
      body: changePasswordBody,
      responses: { 204: { description: 'Changed.' } },
      errors: ['invalid_password', 'rate_limited'],
      handler: async (ctx, { body }) => {
        await accounts.changePassword(caller(ctx), body.currentPassword, body.newPassword, originOf(ctx));
        ctx.status = 204;
      },
    }),
    defineRoute({
      method: 'put',
      path: '/auth/pgp-key',
      tag: TAG,
      summary: 'Upload or replace your OpenPGP public key',
      description:
        'Rules, each refused with 400 invalid_pgp_key naming the one broken: ASCII-armored OpenPGP; exactly one key; ' +
        'a public key (secret-key material is refused and never stored, logged or echoed); at most 64 KiB; every primary key and ' +
        'subkey of an accepted algorithm and size: Ed25519/Curve25519 (v4 EdDSA/ECDH or RFC 9580 Ed25519/X25519), ECDSA or ECDH ' +
        'on NIST P-256, P-384 or P-521, or RSA of 2048 to 4096 bits with a public exponent of at most 32 bits (such as 65537); ' +
        'DSA, ElGamal and everything else are refused, before any signature is checked; the primary key valid now (not expired, ' +
        'not revoked, self-signatures verify); a usable encryption key (a subkey or primary key flagged for encryption, valid now), ' +
        'since clients encrypt signals to it. The check runs off the event loop with a 2 s limit: a key that takes longer is ' +
        'refused with invalid_pgp_key, and when too many checks are waiting the answer is 503 unavailable with Retry-After. ' +
        `Uploads are limited per account (RATE_PGP_USER, default ${defaultOf('RATE_PGP_USER')}) and per client IP (RATE_PGP_IP, default ${defaultOf('RATE_PGP_IP')}, ` +
        'which also counts registrations that carry a key). The key is stored re-armored from the parsed packets and minimised: one valid self-signature per user ID and ' +
        'subkey binding (the newest), no third-party certifications, nothing that does not verify. ' +
        'Server event (GET /signaling/poll): `pgp.changed` (payload: `{username, fingerprint}`) to every device of each ' +
        'of your connections and to your other devices, so clients that pinned your old key notice.',
      auth: true,
      body: pgpKeyBody,
      responses: { 200: { description: 'The stored key.', schema: z.object({ pgp: pgpSchema }) } },
      errors: ['invalid_pgp_key', 'rate_limited', 'unavailable'],
      before: [countKeyUploadByIp],
      handler: async (ctx, { body }) => {
        await limiter.consume('pgpUploadPerUser', caller(ctx).userId);
        const user = await accounts.setPgpKey(caller(ctx), body.publicKey, originOf(ctx));
        ctx.body = { pgp: presentPgp(user.pgp) };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/auth/pgp-key',
      tag: TAG,
      summary: 'Remove your OpenPGP public key',
      description:
        'Removing when none is stored also answers 204. Server event (GET /signaling/poll): `pgp.changed` (payload: ' +
        '`{username, fingerprint: null}`) to every device of each of your connections and to your other devices.',
      auth: true,
      responses: { 204: { description: 'Removed.' } },
      handler: async (ctx) => {
        await accounts.clearPgpKey(caller(ctx), originOf(ctx));
        ctx.status = 204;
      },
    }),
  ];
}
