import { readFileSync } from 'node:fs';

/**
 * Held polls may use this share of the open-file limit: each holds a socket, and the other half is
 * for everything else (the database and its WAL, logs, outgoing mail, and the sockets of logins and
 * sends, which must keep working while polls are held: docs/security.md).
 */
export const POLL_FD_SHARE = 0.5;

/** Where the limit cannot be read (not Linux): half of the common soft limit of 1024. */
export const FALLBACK_POLLS_MAX = 512;

/**
 * However high the limit (or unlimited), no more than this many by default: at about 22 KB each
 * (docs/security.md: 5,000 polls = +108 MB) that is ~0.7 GB; the shipped systemd unit's LimitNOFILE=65536
 * gives exactly this. POLLS_MAX sets more where the memory is there.
 */
export const DERIVED_POLLS_CEILING = 32_768;

export interface PollsMax {
  max: number;
  /** How it was chosen, for the start-up log line. */
  source: string;
}

/** The soft "Max open files" of /proc/self/limits: a number, Infinity for unlimited, or null if unreadable. */
export function parseOpenFileLimit(limitsText: string): number | null {
  const m = /^Max open files\s+(\S+)/m.exec(limitsText);
  if (!m) return null;
  if (m[1] === 'unlimited') return Infinity;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

function readProcLimits(): string | null {
  try {
    return readFileSync('/proc/self/limits', 'utf8');
  } catch {
    return null;
  }
}

/**
 * The total cap on held polls: POLLS_MAX when set, else derived from this process's open-file soft
 * limit (which Node raises to the hard limit at start, so this reads the limit that applies).
 */
export function resolvePollsMax(configured: number | undefined, readLimits: () => string | null = readProcLimits): PollsMax {
  if (configured !== undefined) return { max: configured, source: 'POLLS_MAX' };
  const text = readLimits();
  const limit = text === null ? null : parseOpenFileLimit(text);
  if (limit === null) return { max: FALLBACK_POLLS_MAX, source: 'fallback (open-file limit unreadable)' };
  const max = Math.max(1, Math.min(DERIVED_POLLS_CEILING, Math.floor(limit * POLL_FD_SHARE)));
  return { max, source: `half of the open-file limit ${limit === Infinity ? 'unlimited' : limit}, at most ${DERIVED_POLLS_CEILING}` };
}
