/**
 * The defaults of the ENVIRONMENT table in the words the docs use ("30 days", "10 per 15 min", "64 KiB"), so
 * a route description or a generated page that names a default says the table's, and changing a default
 * in the table changes every text that names it (docs/configuration.md, docs/api.md, docs/security.md).
 */
import { ENVIRONMENT, type Unit } from './environment.js';

type Row = (typeof ENVIRONMENT)[number]['variables'][number];

/** Every variable Signalbox reads, the names `defaultOf` accepts. */
export type VariableName = Row['env'];

const ROWS: ReadonlyMap<string, Row> = new Map(ENVIRONMENT.flatMap((section): Row[] => [...section.variables]).map((v) => [v.env, v]));

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A count as the docs write it: 1,200. */
export const count = (n: number): string => n.toLocaleString('en-US');

/** Seconds in the largest unit that divides them: 2592000 → "30 days", 3600 → "1 hour", 900 → "15 min", 90 → "90 s". */
export function duration(seconds: number): string {
  if (seconds > 0 && seconds % 86_400 === 0) return plural(seconds / 86_400, 'day');
  if (seconds > 0 && seconds % 3600 === 0) return plural(seconds / 3600, 'hour');
  if (seconds > 0 && seconds % 60 === 0) return `${seconds / 60} min`;
  return `${count(seconds)} s`;
}

/** Bytes in KiB or MiB when they divide: 65536 → "64 KiB". */
export function size(bytes: number): string {
  if (bytes > 0 && bytes % 1_048_576 === 0) return `${bytes / 1_048_576} MiB`;
  if (bytes > 0 && bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${count(bytes)} bytes`;
}

/** A value of `unit` in words. */
export function inWords(value: number, unit: Unit | undefined): string {
  if (unit === 'seconds') return duration(value);
  if (unit === 'milliseconds') return value % 1000 === 0 ? duration(value / 1000) : `${count(value)} ms`;
  if (unit === 'bytes') return size(value);
  return count(value);
}

/** A rate limit's window in the shortest words a table cell uses: "h", "day", "min", "15 min". */
export function windowShort(seconds: number): string {
  const words = duration(seconds);
  const short = words.replace(/ hours?$/, ' h');
  return short.startsWith('1 ') ? short.slice(2) : short;
}

/** A rate limit's window after "per" in prose: "hour", "day", "min", "15 min". */
const windowInProse = (seconds: number): string => {
  const words = duration(seconds);
  return words.startsWith('1 ') ? words.slice(2) : words;
};

/** A variable's row; throws for a name the table does not have. */
function rowOf(name: string): Row {
  const row = ROWS.get(name);
  if (!row) throw new Error(`${name} is not a variable of the ENVIRONMENT table`);
  return row;
}

/** A rate limit default (`max/seconds`) as its two numbers. */
function rateOf(name: VariableName): { max: number; windowSeconds: number } {
  const m = /^(\d+)\/(\d+)$/.exec(rowOf(name).parse.example);
  if (!m) throw new Error(`${name} has no max/seconds default`);
  return { max: Number(m[1]), windowSeconds: Number(m[2]) };
}

/**
 * A variable's default in words, for text that names it: `defaultOf('CONNECTION_REQUEST_TTL')` is "30 days",
 * `defaultOf('RATE_PGP_USER')` "10 per hour", `defaultOf('MAX_BODY_BYTES')` "64 KiB", `defaultOf('DEVICES_MAX')` "10".
 * Throws at start for a variable with no default, so a description cannot name one that is not there.
 */
export function defaultOf(name: VariableName): string {
  const row = rowOf(name);
  const example = row.parse.example;
  if ('rateLimit' in row) {
    const { max, windowSeconds } = rateOf(name);
    return `${count(max)} per ${windowInProse(windowSeconds)}`;
  }
  if (!/^\d+$/.test(example)) {
    if (example === '') throw new Error(`${name} has no default to name`);
    return example;
  }
  return inWords(Number(example), 'unit' in row ? row.unit : undefined);
}
