import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENVIRONMENT, RATE_LIMIT_VARIABLES, type Env } from '../../app/config/environment.js';
import { parseConfig } from '../../app/config/parse.js';
import { renderEnvExample } from '../../scripts/gen-env-example.js';
import { generatedFileVerdict } from '../helpers/generatedFile.js';

const secrets = { jwtSecret: Buffer.alloc(32, 1), dataKey: Buffer.alloc(32, 2) };
const committed = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', '.env.example'), 'utf8');
const rendered = renderEnvExample();

/** The `NAME=value` lines of an env file, as the environment they set. */
const assignments = (text: string): Env =>
  Object.fromEntries(
    text
      .split('\n')
      .filter((line) => /^[A-Z][A-Z0-9_]*=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );

describe('.env.example', () => {
  it('is exactly what `npm run docs:env` renders from the table in app/config/environment.ts', () => {
    const verdict = generatedFileVerdict(
      '.env.example',
      committed,
      rendered,
      'edit ENVIRONMENT in app/config/environment.ts, run `npm run docs:env` and commit the result',
    );
    expect(verdict).toBe('up to date');
  });

  it('configures exactly the defaults when used as it is', () => {
    expect(parseConfig(assignments(rendered), secrets)).toEqual(parseConfig({}, secrets));
  });

  it('lists every variable the server reads once, in the order errors are reported', () => {
    const names = ENVIRONMENT.flatMap((section) => section.variables.map((v) => v.env));
    expect(Object.keys(assignments(rendered))).toEqual(names);
    expect(new Set(names).size).toBe(names.length);
  });

  it('writes a default as NAME=value and an unset one as NAME=', () => {
    expect(rendered.split('\n')).toEqual(expect.arrayContaining(['PORT=8080', 'TRUST_PROXY=false', 'RATE_LOGIN_IP=50/300', 'SMTP_URL=', 'POLLS_MAX=']));
  });

  it('documents the first variable of every section', () => {
    const undocumented = ENVIRONMENT.filter((section) => !('doc' in section) && !('doc' in section.variables[0])).map((s) => s.variables[0].env);
    expect(undocumented).toEqual([]);
  });

  it('changes when a variable is added, so a stale .env.example is caught', () => {
    const extra = { doc: 'A new knob.', variables: [{ env: 'NEW_KNOB', doc: ['What it does,', 'over two lines.'], parse: { example: '42' } }] };
    const changed = renderEnvExample([...ENVIRONMENT, extra]);
    expect(changed).toBe(`${rendered}\n# A new knob.\n# What it does,\n# over two lines.\nNEW_KNOB=42\n`);
  });
});

describe('RATE_LIMIT_VARIABLES', () => {
  it('switches every rate limit off when each is set to off', () => {
    const { rateLimits } = parseConfig(Object.fromEntries(RATE_LIMIT_VARIABLES.map((name) => [name, 'off'])), secrets);
    expect(Object.values(rateLimits).length).toBeGreaterThan(0);
    expect(Object.entries(rateLimits).filter(([, rule]) => rule !== null)).toEqual([]);
  });

  it('names only RATE_* variables', () => {
    expect(RATE_LIMIT_VARIABLES.filter((name) => !name.startsWith('RATE_'))).toEqual([]);
  });
});
