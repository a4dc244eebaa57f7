import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENVIRONMENT } from '../../app/config/environment.js';
import { loadOpenApi } from '../../scripts/gen-api-docs.js';

// Route descriptions (and so docs/api.md) name a variable with its default: "RATE_PGP_USER, default 10 per
// hour", "CONNECTION_REQUEST_TTL (default 30 days)". Each such default must be the one in the table in
// app/config/environment.ts, converted to the unit the text uses, so changing a default there cannot leave the API
// reference saying the old one.

const DEFAULTS = new Map(ENVIRONMENT.flatMap((section) => section.variables.map((v): [string, string] => [v.env, v.parse.example])));

const SECONDS: Record<string, number> = { s: 1, seconds: 1, min: 60, minutes: 60, hour: 3600, hours: 3600, h: 3600, day: 86_400, days: 86_400 };

/** `NAME … default N [unit | per …]` in a description; the gap between name and default holds no sentence end. */
const MENTION = /\b([A-Z][A-Z0-9_]{2,})\b[^.;]{0,30}?default (\d[\d,]*)( (?:per (?:(\d+) )?|an? )?(s|seconds|min|minutes|hours?|h|days?|KiB)\b)?/g;

interface Finding {
  text: string;
  table: string;
}

/** The mentions in `text` whose default disagrees with the table (unknown names are not judged). */
export function disagreements(text: string, table: ReadonlyMap<string, string> = DEFAULTS): { checked: number; wrong: Finding[] } {
  let checked = 0;
  const wrong: Finding[] = [];
  for (const m of text.matchAll(MENTION)) {
    const [whole, name, number, unitPart, perCount, unit] = m;
    const value = table.get(name!);
    if (value === undefined || value === '') continue;
    checked++;
    const n = Number(number!.replace(/,/g, ''));
    let ok: boolean;
    if (value.includes('/')) {
      // A rate limit, `max/seconds`: the text gives max and, when it says "per …", the window.
      const [max, window] = value.split('/').map(Number);
      ok = n === max && (unitPart === undefined || Number(perCount ?? 1) * SECONDS[unit!]! === window);
    } else {
      const factor = unit === undefined ? 1 : unit === 'KiB' ? 1024 : SECONDS[unit]!;
      // A `_MS` variable is in milliseconds; the text may give it in seconds or minutes.
      ok = n * factor * (name!.endsWith('_MS') && unit !== undefined ? 1000 : 1) === Number(value);
    }
    if (!ok) wrong.push({ text: whole, table: `${name}=${value}` });
  }
  return { checked, wrong };
}

/** One default as a table cell gives it: `50 / 5 min per network`, `10 failures / 15 min`, `90 days`, `16 KiB`, `500 signals per device`. */
const CELL = /^(\d[\d,]*)\s*(KiB|s|min|h|hours?|days?)?\b[^/\d]*(?:\/\s*(\d+)?\s*(s|min|h|hour|day)\b)?/;

/**
 * Rows of a Markdown limits table (`| \`NAME\`, \`OTHER\` | default, default | … |`) whose defaults disagree
 * with the table; a row whose cell does not start with a number (e.g. "half the open-file limit") is not judged.
 */
export function tableDisagreements(markdown: string, table: ReadonlyMap<string, string> = DEFAULTS): { checked: number; wrong: Finding[] } {
  let checked = 0;
  const wrong: Finding[] = [];
  for (const row of markdown.split('\n').filter((line) => /^\| `[A-Z]/.test(line))) {
    const [, first, second] = row.split('|').map((c) => c.trim());
    const names = [...first!.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
    const parts = second!.split(/[,;] /);
    if (names.some((n) => !table.get(n)) || parts.length < names.length) continue;
    names.forEach((name, i) => {
      const m = CELL.exec(parts[i]!);
      if (!m) return;
      checked++;
      const value = table.get(name)!;
      const n = Number(m[1]!.replace(/,/g, ''));
      const [, , unit, perCount, perUnit] = m;
      let ok: boolean;
      if (value.includes('/')) {
        const [max, window] = value.split('/').map(Number);
        ok = n === max && (perUnit === undefined || Number(perCount ?? 1) * SECONDS[perUnit]! === window);
      } else {
        const factor = unit === undefined ? 1 : unit === 'KiB' ? 1024 : SECONDS[unit]! * (name.endsWith('_MS') ? 1000 : 1);
        ok = n * factor === Number(value);
      }
      if (!ok) wrong.push({ text: `${name}: ${parts[i]!}`, table: `${name}=${value}` });
    });
  }
  return { checked, wrong };
}

const descriptions = (node: unknown): string[] => {
  if (Array.isArray(node)) return node.flatMap(descriptions);
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node).flatMap(([k, v]) => (k === 'description' && typeof v === 'string' ? [v] : descriptions(v)));
};

describe('defaults named in route descriptions and docs', () => {
  it('are the defaults of the table in app/config/environment.ts', async () => {
    const text = descriptions(await loadOpenApi()).join('\n');
    const { checked, wrong } = disagreements(text);
    expect(wrong).toEqual([]);
    // The routes name some thirty defaults today: far fewer checked would mean the pattern stopped matching.
    expect(checked).toBeGreaterThanOrEqual(25);
  });

  it('are the defaults of the table in the hand-written pages too (README.md, docs/*.md)', () => {
    const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
    const pages = [
      'README.md',
      'client/README.md',
      ...readdirSync(join(root, 'docs'))
        .filter((n) => n.endsWith('.md'))
        .map((n) => `docs/${n}`),
    ];
    const wrong = pages.flatMap((page) => disagreements(readFileSync(join(root, page), 'utf8')).wrong.map((f) => ({ page, ...f })));
    expect(wrong).toEqual([]);
  });

  it("are the defaults of the table in docs/security.md's limits at a glance", () => {
    const page = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'security.md'), 'utf8');
    const { checked, wrong } = tableDisagreements(page);
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThanOrEqual(40); // 47 today
  });

  it('catches a stale default in a limits table row', () => {
    const table = new Map([
      ['RATE_LOGIN_ACCOUNT_IP', '10/900'],
      ['MAILBOX_MAX', '500'],
      ['MAILBOX_PER_SENDER', '100'],
      ['SESSION_MAX_AGE', '7776000'],
    ]);
    const rows = [
      '| `RATE_LOGIN_ACCOUNT_IP` | 10 failures / 10 min per account and network | guessing |',
      '| `MAILBOX_MAX`, `MAILBOX_PER_SENDER` | 500 signals per device, 50 per sender in it | filling |',
      '| `SESSION_MAX_AGE` | 30 days | a stolen refresh token |',
    ].join('\n');
    expect(tableDisagreements(rows, table).wrong.map((f) => f.text)).toEqual([
      'RATE_LOGIN_ACCOUNT_IP: 10 failures / 10 min per account and network',
      'MAILBOX_PER_SENDER: 50 per sender in it',
      'SESSION_MAX_AGE: 30 days',
    ]);
  });

  it('catches a stale default, a stale window and a stale unit', () => {
    const table = new Map([
      ['RATE_PGP_USER', '10/3600'],
      ['SIGNAL_TTL', '2592000'],
      ['MAX_BODY_BYTES', '65536'],
      ['PUSH_TIMEOUT_MS', '10000'],
    ]);
    const text =
      'Limited (RATE_PGP_USER, default 12 per hour). Also (RATE_PGP_USER, default 10 per 15 min). Kept SIGNAL_TTL (default 7 days). MAX_BODY_BYTES, default 64 KiB.';
    expect(disagreements(text, table).wrong.map((f) => f.text)).toEqual([
      'RATE_PGP_USER, default 12 per hour',
      'RATE_PGP_USER, default 10 per 15 min',
      'SIGNAL_TTL (default 7 days',
    ]);
  });
});
