import { isLoopback } from '../app/core/loopback.js';
import type { Env } from '../app/config/environment.js';

/**
 * What `npm run dev` changes from a plain start, for one developer on one machine: sign-ups and logins
 * roomy enough to make many test accounts from 127.0.0.1 (the defaults allow 10 sign-ups an hour per
 * network), CORS for the usual local dev-server origins, the example apps, and a loopback coturn. Every
 * value here yields to the same variable set in the environment.
 */
export const DEV_RATE_LIMITS: Readonly<Env> = Object.freeze({
  RATE_REGISTER_IP: '1000/3600',
  RATE_REGISTER_EMAIL: '100/3600',
  RATE_LOGIN_IP: '1000/900',
  RATE_LOGIN_ACCOUNT_IP: '100/900',
});

/** Ports local dev servers use (Vite, Create React App/Next, Expo web, python -m http.server, ...). */
export const DEV_CORS_PORTS = [3000, 4173, 5173, 8000, 8081] as const;

/** The loopback coturn dev mode started, if any. */
export interface DevTurn {
  port: number;
  secret: string;
}

export class DevModeRefused extends Error {}

/** True for the hosts dev mode may listen on: loopback addresses and the name localhost. */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || isLoopback(host.replace(/^\[|\]$/g, ''));
}

/**
 * The environment of the server in dev mode: `env` with the relaxations under it (what the developer set
 * wins). Refuses (DevModeRefused) a HOST that is not loopback: relaxed limits, CORS for any local page and
 * the examples must never face a network.
 */
export function devEnvironment(env: Env, turn: DevTurn | null): { env: Env; relaxed: string[] } {
  const host = env.HOST?.trim() || '127.0.0.1';
  if (!isLoopbackHost(host)) {
    throw new DevModeRefused(
      `HOST=${host}: npm run dev relaxes sign-up limits and CORS and listens on loopback only (127.0.0.1, ::1, localhost); use npm start for any other address`,
    );
  }
  const port = env.PORT?.trim() || '8080';
  const origins = [Number(port), ...DEV_CORS_PORTS].flatMap((p) => [`http://localhost:${p}`, `http://127.0.0.1:${p}`]);
  const dev: Env = {
    HOST: host,
    PORT: port,
    ...DEV_RATE_LIMITS,
    CORS_ORIGINS: origins.join(','),
    EXAMPLES: 'true',
    ...(turn ? { TURN_URLS: `turn:127.0.0.1:${turn.port}?transport=udp,turn:127.0.0.1:${turn.port}?transport=tcp`, TURN_SECRET: turn.secret } : {}),
  };
  const merged: Env = { ...dev };
  for (const [name, value] of Object.entries(env)) if (value !== undefined && value !== '') merged[name] = value;
  const kept = (name: string) => merged[name] === dev[name];
  const relaxed = [
    ...Object.keys(DEV_RATE_LIMITS)
      .filter(kept)
      .map((name) => `${name}=${dev[name]}`),
    ...(kept('CORS_ORIGINS') ? [`CORS for localhost/127.0.0.1 on ports ${[port, ...DEV_CORS_PORTS].join(', ')}`] : []),
    ...(kept('EXAMPLES') ? ['EXAMPLES=true'] : []),
    ...(turn && kept('TURN_SECRET') ? [`a loopback coturn on 127.0.0.1:${turn.port}`] : []),
  ];
  return { env: merged, relaxed };
}

/** The coturn configuration for a call on one machine: loopback only, TURN REST credentials (docs/deploy.md). */
export function devTurnConfig(turn: DevTurn, dir: string): string {
  return [
    '# Written by npm run dev for this run only; deleted when it stops.',
    'listening-ip=127.0.0.1',
    'relay-ip=127.0.0.1',
    `listening-port=${turn.port}`,
    // Both peers and the relay are on 127.0.0.1: coturn refuses loopback peers unless told.
    'allow-loopback-peers',
    'use-auth-secret',
    `static-auth-secret=${turn.secret}`,
    'realm=signalbox.dev',
    'no-tls',
    'no-dtls',
    'no-cli',
    'simple-log',
    `log-file=${dir}/turnserver.log`,
    `pidfile=${dir}/turnserver.pid`,
    `userdb=${dir}/turndb`,
    '',
  ].join('\n');
}
