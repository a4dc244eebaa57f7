import { describe, expect, it } from '@jest/globals';
import { DERIVED_POLLS_CEILING, FALLBACK_POLLS_MAX, parseOpenFileLimit, resolvePollsMax } from '../../app/signaling/pollLimits.js';

/** /proc/self/limits as Linux writes it, with the given "Max open files" soft and hard values. */
const limits = (soft: string, hard: string) =>
  [
    'Limit                     Soft Limit           Hard Limit           Units     ',
    'Max processes             127431               127431               processes ',
    `Max open files            ${soft.padEnd(21)}${hard.padEnd(21)}files     `,
    'Max locked memory         8388608              8388608              bytes     ',
  ].join('\n');

describe('POLLS_MAX', () => {
  it('is the configured value when POLLS_MAX is set', () => {
    expect(resolvePollsMax(7, () => limits('20000', '20000')).max).toBe(7);
  });

  it('is half the open-file soft limit when unset', () => {
    expect(resolvePollsMax(undefined, () => limits('20000', '524288')).max).toBe(10_000);
  });

  it('reads the soft limit, not the hard one', () => {
    expect(parseOpenFileLimit(limits('1024', '524288'))).toBe(1024);
  });

  it('stops at the ceiling for a very high or unlimited limit', () => {
    expect(resolvePollsMax(undefined, () => limits('1048576', '1048576')).max).toBe(DERIVED_POLLS_CEILING);
    expect(resolvePollsMax(undefined, () => limits('unlimited', 'unlimited')).max).toBe(DERIVED_POLLS_CEILING);
  });

  it('falls back when the limits cannot be read', () => {
    expect(resolvePollsMax(undefined, () => null).max).toBe(FALLBACK_POLLS_MAX);
    expect(resolvePollsMax(undefined, () => 'no such line').max).toBe(FALLBACK_POLLS_MAX);
  });

  it('derives a positive number from this process', () => {
    expect(resolvePollsMax(undefined).max).toBeGreaterThanOrEqual(1);
  });
});
