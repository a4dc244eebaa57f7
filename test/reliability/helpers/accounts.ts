import { call, expectStatus } from './faultClient.js';

// Accounts, devices and connections made through the public API of whichever server is given: for the
// multi-instance suite, where each step may go to a different instance of one database.

/** One signed-in device: a session of `username`, with its access token. */
export interface Device {
  username: string;
  password: string;
  accessToken: string;
  deviceId: string;
}

const PASSWORD = 'correct horse battery';
let counter = 0;

const asDevice = (body: unknown, username: string): Device => {
  const b = body as { accessToken: string; deviceId: string };
  return { username, password: PASSWORD, accessToken: b.accessToken, deviceId: b.deviceId };
};

/** Registers a fresh user through `url`: their first device. */
export async function register(url: string, prefix: string): Promise<Device> {
  counter++;
  const username = `${prefix}_${counter}_${Math.random().toString(36).slice(2, 6)}`.slice(0, 32);
  const res = await call(url, 'POST', '/auth/register', { body: { username, email: `${username}@example.org`, password: PASSWORD } });
  return asDevice(expectStatus(res, 201, `register ${username}`), username);
}

/** Signs `user` in through `url`: another device of theirs. */
export async function login(url: string, user: Pick<Device, 'username' | 'password'>): Promise<Device> {
  const res = await call(url, 'POST', '/auth/login', { body: { username: user.username, password: user.password } });
  return asDevice(expectStatus(res, 200, `login ${user.username}`), user.username);
}

/** `a` asks through `urlA`, `b` accepts through `urlB`; then every device of both is emptied of the events that wrote. */
export async function connect(urlA: string, a: Device, urlB: string, b: Device, devices: Device[]): Promise<void> {
  expectStatus(await call(urlA, 'POST', '/connections/request', { token: a.accessToken, body: { username: b.username } }), 201, 'request');
  expectStatus(await call(urlB, 'POST', '/connections/respond', { token: b.accessToken, body: { username: a.username, action: 'accept' } }), 200, 'accept');
  for (const d of devices) expectStatus(await call(urlA, 'DELETE', '/signaling/clear', { token: d.accessToken }), 204, 'clear');
}
