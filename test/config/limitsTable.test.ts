import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENVIRONMENT, RATE_LIMIT_VARIABLES } from '../../app/config/environment.js';
import { LIMITS_AT_A_GLANCE, LIMITS_END, LIMITS_START, renderLimitsTable, withLimitsTable } from '../../scripts/gen-limits-table.js';
import { generatedFileVerdict } from '../helpers/generatedFile.js';

// docs/security.md's "Every limit at a glance" is rendered from the table in app/config/environment.ts (each
// variable's default, `shows` and `stops`) and the code's constants, so a default changed there cannot
// leave the page saying the old one.
const committed = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'security.md'), 'utf8');
const table = renderLimitsTable();
const rowOf = (rendered: string, name: string): string | undefined => rendered.split('\n').find((line) => line.startsWith(`| \`${name}\``));

describe("docs/security.md's limits at a glance", () => {
  it('is exactly what `npm run docs:env` renders from the table in app/config/environment.ts', () => {
    const verdict = generatedFileVerdict(
      'docs/security.md',
      committed,
      withLimitsTable(committed, table),
      'edit ENVIRONMENT in app/config/environment.ts (or the list in scripts/gen-limits-table.ts), run `npm run docs:env` and commit the result',
    );
    expect(verdict).toBe('up to date');
    expect(committed).toContain(`${LIMITS_START}\n| Limit | Default | Stops |`);
  });

  it('has a row for every rate limit and every variable that says what it stops', () => {
    const listed = LIMITS_AT_A_GLANCE.flatMap((row) => ('variables' in row ? row.variables : []));
    const stopping = ENVIRONMENT.flatMap((section) => section.variables.filter((v) => 'stops' in v).map((v) => v.env));
    expect(RATE_LIMIT_VARIABLES.filter((name) => !listed.includes(name))).toEqual([]);
    expect(stopping.filter((name) => !listed.includes(name))).toEqual([]);
    // The first variable of a row carries the row's Stops text, and only it: one place for each fact.
    const firsts = LIMITS_AT_A_GLANCE.flatMap((row) => ('variables' in row ? [row.variables[0]] : []));
    expect([...stopping].sort()).toEqual([...firsts].sort());
  });

  it('renders each default in the unit and words of its row', () => {
    expect(rowOf(table, 'RATE_LOGIN_ACCOUNT_IP')).toBe(
      '| `RATE_LOGIN_ACCOUNT_IP` | 10 failures / 15 min per account and network | guessing one account from one network (960 a day) |',
    );
    expect(rowOf(table, 'RATE_REGISTER_IP')).toMatch(/^\| `RATE_REGISTER_IP`, `RATE_REGISTER_EMAIL` \| 10 \/ h, 3 \/ h \| scripted sign-ups/);
    expect(rowOf(table, 'SIGNAL_MAX_BYTES')).toMatch(/\| 16 KiB, 64 KiB \|/);
    expect(rowOf(table, 'SESSION_MAX_AGE')).toMatch(/\| 90 days \|/);
    expect(rowOf(table, 'POLLS_MAX')).toMatch(/\| half the open-file limit, at most 32,768 \|/);
    expect(table).toContain('| argon2 queue | 2 at once, 256 waiting, 8 per caller |');
    expect(table).toContain('| common passwords | 49,233-entry list, always on |');
  });

  it('changes when a default changes, so a stale page is caught', () => {
    const moved = ENVIRONMENT.map((section) => ({
      ...section,
      variables: section.variables.map((v) =>
        v.env === 'RATE_LOGIN_ACCOUNT_IP' ? { ...v, parse: { example: '20/3600' } } : v.env === 'MAILBOX_MAX' ? { ...v, parse: { example: '501' } } : v,
      ),
    }));
    const changed = renderLimitsTable(moved);
    expect(rowOf(changed, 'RATE_LOGIN_ACCOUNT_IP')).toContain('| 20 failures / h per account and network | guessing one account from one network (480 a day) |');
    expect(rowOf(changed, 'MAILBOX_MAX')).toContain('| 501 signals per device, 100 per sender in it');
    expect(generatedFileVerdict('docs/security.md', committed, withLimitsTable(committed, changed), 'run npm run docs:env')).not.toBe('up to date');
  });

  it('refuses a page without its markers rather than writing the table nowhere', () => {
    expect(() => withLimitsTable(committed.replace(LIMITS_END, ''))).toThrow('lacks the markers');
  });
});
