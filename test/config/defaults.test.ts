import { describe, expect, it } from '@jest/globals';
import { defaultOf, duration, inWords, size, windowShort } from '../../app/config/defaults.js';
import { ENVIRONMENT } from '../../app/config/environment.js';
import { disagreements } from '../helpers/defaultMentions.js';

// Route descriptions say a default through defaultOf, so docs/api.md follows the table; the words must be
// ones a reader (and the drift check of test/docs/routeDefaults.test.ts) reads back as the table's value.

const EXAMPLES = new Map(ENVIRONMENT.flatMap((section) => section.variables.map((v): [string, string] => [v.env, v.parse.example])));
const withDefaults = ENVIRONMENT.flatMap((section) => section.variables.filter((v) => v.parse.example !== '').map((v) => v.env));

describe('defaultOf', () => {
  it('says each default in the unit its variable counts', () => {
    expect(defaultOf('CONNECTION_REQUEST_TTL')).toBe('30 days');
    expect(defaultOf('CONNECTION_REQUEST_COOLDOWN')).toBe('10 min');
    expect(defaultOf('MAX_BODY_BYTES')).toBe('64 KiB');
    expect(defaultOf('PUSH_TIMEOUT_MS')).toBe('10 s');
    expect(defaultOf('DEVICES_MAX')).toBe('10');
    expect(defaultOf('RATE_SEND_USER')).toBe('1,200 per min');
    expect(defaultOf('RATE_LOGIN_ACCOUNT_IP')).toBe('10 per 15 min');
    expect(defaultOf('RATE_LOGIN_TOTP')).toBe('30 per day');
    expect(defaultOf('RATE_PGP_USER')).toBe('10 per hour');
  });

  it('reads back as the value of the table for every numeric default', () => {
    const numeric = withDefaults.filter((name) => /^\d+(\/\d+)?$/.test(EXAMPLES.get(name)!));
    expect(numeric.length).toBeGreaterThanOrEqual(50);
    const wrong = numeric.flatMap((name) => disagreements(`${name} (default ${defaultOf(name)})`).wrong);
    expect(wrong).toEqual([]);
  });

  it('refuses a variable with no default, so a description cannot name one', () => {
    expect(() => defaultOf('POLLS_MAX')).toThrow('POLLS_MAX has no default to name');
  });
});

describe('units in words', () => {
  it('uses the largest unit that divides the value', () => {
    expect([duration(90), duration(600), duration(3600), duration(7200), duration(86_400), duration(7_776_000)]).toEqual([
      '90 s',
      '10 min',
      '1 hour',
      '2 hours',
      '1 day',
      '90 days',
    ]);
    expect([size(16_384), size(1_048_576), size(1000)]).toEqual(['16 KiB', '1 MiB', '1,000 bytes']);
    expect([inWords(5000, 'milliseconds'), inWords(1500, 'milliseconds'), inWords(49_233, undefined)]).toEqual(['5 s', '1,500 ms', '49,233']);
  });

  it('writes a rate window as short as a table cell needs', () => {
    expect([windowShort(60), windowShort(300), windowShort(900), windowShort(3600), windowShort(86_400)]).toEqual(['min', '5 min', '15 min', 'h', 'day']);
  });
});
