import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadOpenApi } from '../../scripts/gen-api-docs.js';
import { disagreements, tableDisagreements } from '../helpers/defaultMentions.js';

// Route descriptions (and so docs/api.md) name a variable with its default: "RATE_PGP_USER, default 10 per
// hour", "CONNECTION_REQUEST_TTL (default 30 days)". Each such default must be the one in the table in
// app/config/environment.ts, converted to the unit the text uses, so changing a default there cannot leave the API
// reference saying the old one.

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

  // The limits table is generated (test/config/limitsTable.test.ts); read back here, its words must still say the table's values.
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
