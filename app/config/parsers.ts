/**
 * How one environment variable is read and checked: the parsers the table in environment.ts is built from
 * (docs/configuration.md lists what each variable accepts).
 */
import { z } from 'zod';

/** Thrown for a bad environment value; its message is the one line printed before exiting. */
export class ConfigError extends Error {}

/**
 * How one variable is read: its zod schema (default included) and the value `.env.example` shows for it,
 * the default as an operator would write it (empty: unset by default).
 */
export interface Parser<S extends z.ZodType = z.ZodType> {
  schema: S;
  example: string;
}

const parser = <S extends z.ZodType>(schema: S, example = ''): Parser<S> => ({ schema, example });

// Environment values are strings; an empty one (`SMTP_URL=` in a .env file) means "unset".
export const unsetIfEmpty = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
export const opt = <T extends z.ZodType>(schema: T) => parser(z.preprocess(unsetIfEmpty, schema.optional()));

/** A string, `fallback` when unset. */
export const text = (fallback: string, schema: z.ZodString = z.string()) => parser(z.preprocess(unsetIfEmpty, schema.default(fallback)), fallback);

/** One of `values`, `fallback` when unset. */
export const oneOf = <const T extends readonly [string, ...string[]]>(values: T, fallback: T[number], message: string) =>
  parser(z.preprocess(unsetIfEmpty, z.enum(values, { error: message }).default(fallback)), fallback);

/**
 * A value read from the variable's text by `read` (trimmed; undefined when it is not a value `read` accepts,
 * refused as "must be <expected>"), `fallback` when unset; `example` is the default as an operator writes it.
 */
const fromText = <T>(fallback: T, example: string, expected: string, read: (trimmed: string) => T | undefined) =>
  parser(
    z.preprocess(
      unsetIfEmpty,
      z
        .string()
        .optional()
        .transform((v, ctx): T => {
          if (v === undefined) return fallback;
          const value = read(v.trim());
          if (value === undefined) {
            ctx.addIssue({ code: 'custom', message: `must be ${expected} (got "${v}")` });
            return z.NEVER;
          }
          return value;
        }),
    ),
    example,
  );

export const int = (min: number, max: number, fallback: number) =>
  fromText(fallback, String(fallback), `a whole number from ${min} to ${max}`, (s) => {
    const n = Number(s);
    return /^\d+$/.test(s) && Number.isSafeInteger(n) && n >= min && n <= max ? n : undefined;
  });

/** A URL the PostgreSQL driver can connect to: postgres:// or postgresql://, with a host. */
export function isPostgresUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === 'postgres:' || url.protocol === 'postgresql:') && url.hostname !== '';
  } catch {
    return false;
  }
}

export const bool = (fallback: boolean) =>
  fromText(fallback, String(fallback), 'true or false', (s) => {
    const word = s.toLowerCase();
    if (['true', '1', 'yes'].includes(word)) return true;
    if (['false', '0', 'no'].includes(word)) return false;
    return undefined;
  });

/** Comma-separated items (empty ones skipped), each judged by `problem` (its message, or null when fine), then normalised. */
const commaList = (problem: (item: string) => string | null, normalise: (item: string) => string = (item) => item) =>
  parser(
    z.preprocess(
      unsetIfEmpty,
      z
        .string()
        .optional()
        .transform((v, ctx): readonly string[] => {
          if (v === undefined) return Object.freeze([]);
          const items = v
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
          for (const item of items) {
            const message = problem(item);
            if (message !== null) {
              ctx.addIssue({ code: 'custom', message });
              return z.NEVER;
            }
          }
          return Object.freeze(items.map(normalise));
        }),
    ),
  );

/** Comma-separated URLs, each of which must start with one of `schemes`. */
export const urlList = (schemes: string[]) =>
  commaList((item) => {
    const scheme = item.slice(0, item.indexOf(':') + 1).toLowerCase();
    // stun:/turn: URIs (RFC 7064/7065) are host[:port][?transport=udp|tcp], not hierarchical URLs.
    const rest = item.slice(scheme.length);
    const ok = schemes.includes(scheme) && /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?(\?transport=(udp|tcp))?$/.test(rest);
    return ok ? null : `"${item}" is not a ${schemes.join(' or ')} URL`;
  });

/** A rate limit: at most `max` per `windowSeconds`; null when switched off. */
export interface LimitRule {
  max: number;
  windowSeconds: number;
}

/** `max/seconds` (e.g. `10/900`), or `off` (null). */
function readLimit(s: string): LimitRule | null | undefined {
  if (s.toLowerCase() === 'off') return null;
  const m = /^(\d{1,9})\/(\d{1,9})$/.exec(s);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) return undefined;
  return { max: Number(m[1]), windowSeconds: Number(m[2]) };
}

/** A rate limit, `max/seconds` (e.g. `10/900`) or `off`; `fallback` is written the same way. */
export const limit = (fallback: string) => {
  const rule = readLimit(fallback);
  if (rule === undefined) throw new Error(`default ${fallback} is not max/seconds or off`);
  return fromText(rule, fallback, 'max/seconds like 10/900, or off', readLimit);
};

/** Comma-separated browser origins (`https://app.example.com`), kept without a trailing slash. */
export const originList = commaList(
  (item) => {
    let ok = false;
    try {
      const u = new URL(item);
      ok = (u.protocol === 'http:' || u.protocol === 'https:') && u.origin === item.replace(/\/$/, '');
    } catch {
      ok = false;
    }
    return ok ? null : `"${item}" is not an origin like https://app.example.com`;
  },
  (item) => item.replace(/\/$/, ''),
);

/** An app bundle id (reverse DNS): what APNS_TOPIC and a subscription's `topic` must look like. */
export const BUNDLE_ID = /^[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$/;

/** An https:// origin (tests: https://127.0.0.1:port), no path: the APNs and FCM hosts. */
export function isHttpsOrigin(s: string): boolean {
  try {
    const u = new URL(s);
    return u.protocol === 'https:' && (u.pathname === '/' || u.pathname === '') && !u.search && !u.hash;
  } catch {
    return false;
  }
}

export function isUrl(s: string): boolean {
  try {
    new URL(s);
    return true;
  } catch {
    return false;
  }
}
