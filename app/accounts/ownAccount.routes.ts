import { defaultOf } from '../config/defaults.js';
import { z } from 'zod';
import type { FieldCipher } from '../lib/fieldCipher.js';
import { caller, originOf } from '../http/context.js';
import { defineRoute, type AnyRoute } from '../http/route.js';
import { deviceSchema, ownUserSchema, presentDevice, presentOwnUser } from './accounts.presenter.js';
import { deviceParams, passwordBody } from './accounts.schema.js';
import type { AccountService } from './accounts.service.js';
import type { DeviceService } from './devices.service.js';

// Listed with the other /users paths in the reference; the account itself is this feature's.
const TAG = 'Users';

/**
 * The signed-in account: read it, delete it, list and remove its devices. Mounted before users'
 * `/users/:username`, which would also match `/users/me`.
 */
export function ownAccountRoutes(accounts: AccountService, devices: DeviceService, cipher: FieldCipher): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/users/me',
      tag: TAG,
      summary: 'The signed-in account',
      auth: true,
      responses: { 200: { description: 'The account.', schema: z.object({ user: ownUserSchema }) } },
      handler: async (ctx) => {
        const { user, twoFactor } = await accounts.ownAccount(caller(ctx));
        ctx.body = { user: presentOwnUser(user, cipher, twoFactor) };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/me',
      tag: TAG,
      summary: 'Delete the account',
      description:
        'Needs the password; a wrong one is 403 invalid_password (never 401, which means the token). The account and its ' +
        'sessions are gone at once. Password checks are counted per user before ' +
        `checking (RATE_PASSWORD_CHECK_USER, default ${defaultOf('RATE_PASSWORD_CHECK_USER')}, shared with change-password and 2FA enable/disable; ` +
        'a right password is not counted): past it, 429.',
      auth: true,
      body: passwordBody,
      responses: { 204: { description: 'Deleted.' } },
      errors: ['invalid_password', 'rate_limited'],
      handler: async (ctx, { body }) => {
        await accounts.deleteAccount(caller(ctx), body.password);
        ctx.status = 204;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/me/devices',
      tag: TAG,
      summary: 'The signed-in devices (sessions) of the account',
      description:
        'Every live session is a device, oldest first; `current` marks the one asking. Name and platform are what the ' +
        'device gave at register or login (null when it gave none), shown only here, to the owner. `lastSeen` is written ' +
        `at most every 30 s per device. A user holds at most DEVICES_MAX devices (default ${defaultOf('DEVICES_MAX')}): a new sign-in past that ` +
        'ends the least recently seen one (by lastSeen, or by sign-in time for a device not seen since).',
      auth: true,
      responses: { 200: { description: 'The devices.', schema: z.object({ devices: z.array(deviceSchema) }) } },
      handler: async (ctx) => {
        ctx.body = { devices: (await devices.list(caller(ctx))).map(presentDevice) };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/me/devices/:id',
      tag: TAG,
      summary: 'Sign a device out',
      description:
        'The session ends at once: its access and refresh tokens stop working and its held poll answers 401. Removing ' +
        'the calling device is a logout. A device of another account and an id that names none both get 404 not_found.',
      auth: true,
      params: deviceParams,
      responses: { 204: { description: 'Signed out.' } },
      errors: ['not_found'],
      handler: async (ctx, { params }) => {
        await devices.remove(caller(ctx), params.id, originOf(ctx));
        ctx.status = 204;
      },
    }),
  ];
}
