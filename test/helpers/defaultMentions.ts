import { ENVIRONMENT } from '../../app/config/environment.js';

// Where a text names a variable with its default ("RATE_PGP_USER, default 10 per hour", "CONNECTION_REQUEST_TTL
// (default 30 days)", a limits table row), the default it gives read back and compared with the table in
// app/config/environment.ts, converted from the unit the text uses.

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
