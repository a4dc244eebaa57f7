import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENVIRONMENT } from '../../app/config/environment.js';
import { renderConfigDoc } from '../../scripts/gen-config-doc.js';
import { generatedFileVerdict } from '../helpers/generatedFile.js';

// docs/configuration.md is rendered from the table in app/config/environment.ts, so a default or a limit's meaning
// changed there cannot leave the page saying the old one.
const committed = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'configuration.md'), 'utf8');
const rendered = renderConfigDoc();

describe('docs/configuration.md', () => {
  it('is exactly what `npm run docs:env` renders from the table in app/config/environment.ts', () => {
    const verdict = generatedFileVerdict(
      'docs/configuration.md',
      committed,
      rendered,
      'edit ENVIRONMENT in app/config/environment.ts, run `npm run docs:env` and commit the result',
    );
    expect(verdict).toBe('up to date');
  });

  it('has one row per variable the server reads, with its default', () => {
    const rows = rendered.split('\n').filter((line) => /^\| `[A-Z][A-Z0-9_]*` \|/.test(line));
    const expected = ENVIRONMENT.flatMap((section) => section.variables.map((v) => `| \`${v.env}\` | ${v.parse.example === '' ? 'unset' : `\`${v.parse.example}\``} |`));
    expect(rows.map((row) => row.slice(0, row.indexOf(' |', row.indexOf('` | ') + 4) + 2))).toEqual(expected);
  });

  it('says what the server logs at every LOG_LEVEL', () => {
    for (const level of ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']) expect(rendered).toMatch(new RegExp(`^\\| [^\\n]*\`${level}\``, 'm'));
  });

  it('changes when a default changes, so a stale page is caught', () => {
    const moved = ENVIRONMENT.map((section) => ({
      ...section,
      variables: section.variables.map((v) => (v.env === 'MAILBOX_MAX' ? { ...v, parse: { example: '501' } } : v)),
    }));
    const changed = renderConfigDoc(moved);
    expect(changed).not.toBe(rendered);
    expect(changed).toContain('| `MAILBOX_MAX` | `501` |');
  });
});
