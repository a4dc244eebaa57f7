/**
 * The secrets that may live in DATA_DIR instead of the environment (docs/security.md, "Secrets"): generated
 * once, read at start, copied by the backup.
 */
import { chmodSync, closeSync, existsSync, fsyncSync, linkSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { createECDH, randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { envSchema, type Env } from './environment.js';
import { ConfigError, unsetIfEmpty } from './parsers.js';

/** A VAPID (RFC 8292) key pair on P-256, both base64url: the raw 32-byte private key, the uncompressed public point. */
export interface VapidKeys {
  publicKey: string;
  privateKey: string;
}

/** Secrets that may come from DATA_DIR instead of the environment. */
export interface Secrets {
  jwtSecret?: Buffer;
  dataKey?: Buffer;
  /** The VAPID private key, 32 bytes. */
  vapidPrivateKey?: Buffer;
}

/** The VAPID pair of a P-256 private key: the public key is derived, so only the private one is stored. */
export function vapidKeysOf(privateKey: Buffer): VapidKeys {
  const ecdh = createECDH('prime256v1');
  ecdh.setPrivateKey(privateKey);
  // Always 32 bytes, as VAPID_PRIVATE_KEY must be: getPrivateKey() drops leading zero bytes (1 key in 256).
  const raw = Buffer.concat([Buffer.alloc(Math.max(0, 32 - privateKey.length)), privateKey]);
  return { privateKey: raw.toString('base64url'), publicKey: ecdh.getPublicKey().toString('base64url') };
}

/** The secrets generated into DATA_DIR when not set, by file name (the backup copies these). */
export const SECRET_FILES = { jwtSecret: 'jwt-secret', dataKey: 'data-key', vapidPrivateKey: 'vapid-private-key' } as const;
const SECRET_VARIABLES = { jwtSecret: 'JWT_SECRET', dataKey: 'DATA_KEY', vapidPrivateKey: 'VAPID_PRIVATE_KEY' } as const;

/** 32 random bytes, or for VAPID a P-256 private key (padded: getPrivateKey drops leading zero bytes). */
const newSecret = (name: keyof typeof SECRET_FILES): Buffer => {
  if (name !== 'vapidPrivateKey') return randomBytes(32);
  const ecdh = createECDH('prime256v1');
  ecdh.generateKeys();
  const key = ecdh.getPrivateKey();
  return Buffer.concat([Buffer.alloc(32 - key.length), key]);
};

/**
 * Puts `content` at `file` unless a file is there already, whole or not at all: written and synced under a
 * name of this process's own, then linked into place, which fails if another process got there first. So
 * two processes starting at once never disagree on a key, and neither reads the other's half-written file
 * (writing in place let a reader see it empty: the admin CLI beside a first start exited 78).
 */
function createOnce(file: string, content: string): void {
  const own = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.new`;
  const fd = openSync(own, 'wx', 0o600);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    linkSync(own, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(own);
  }
}

/**
 * Reads JWT_SECRET, DATA_KEY and VAPID_PRIVATE_KEY from DATA_DIR, generating each once (mode 0600) when
 * neither the environment nor the directory has it. Losing data-key makes stored e-mails unreadable, and
 * a new vapid-private-key orphans every browser push subscription: back them up.
 */
export function loadSecrets(env: Env): Secrets {
  const dataDir = resolve(envSchema.shape.DATA_DIR.parse(env.DATA_DIR));
  const out: Secrets = {};
  const names = (Object.keys(SECRET_FILES) as Array<keyof typeof SECRET_FILES>).filter((name) => !unsetIfEmpty(env[SECRET_VARIABLES[name]]));
  if (names.length === 0) return out;
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  for (const name of names) {
    const file = join(dataDir, SECRET_FILES[name]);
    if (!existsSync(file)) createOnce(file, newSecret(name).toString('base64') + '\n');
    chmodSync(file, 0o600);
    const value = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (value.length !== 32) throw new ConfigError(`${SECRET_VARIABLES[name]}: ${file} is not 32 bytes of base64`);
    out[name] = value;
  }
  return out;
}
