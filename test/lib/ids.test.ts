import { describe, expect, it } from '@jest/globals';
import { newId, newTimeOrderedId } from '../../app/lib/ids.js';

const BASE64URL_22 = /^[A-Za-z0-9_-]{22}$/;

describe('newTimeOrderedId', () => {
  it('has the shape of newId: 22 characters of the base64url alphabet', () => {
    expect(newId()).toMatch(BASE64URL_22);
    for (const t of [0, 1, Date.now(), 2 ** 48 - 1]) expect(newTimeOrderedId(t)).toMatch(BASE64URL_22);
  });

  it('sorts later ids after earlier ones as plain strings (byte order), across every character position of the time', () => {
    // Each step of 2^k ms changes a different character of the 48-bit time, each of its 64 values in turn.
    const times: number[] = [];
    for (let bit = 0; bit < 48; bit += 3) for (let step = 0; step < 70; step++) times.push(Math.min(step * 2 ** bit, 2 ** 48 - 1));
    times.sort((a, b) => a - b);
    const ids = times.map((t) => newTimeOrderedId(t));
    for (let i = 1; i < ids.length; i++) {
      if (times[i] === times[i - 1]) continue;
      expect(ids[i]! > ids[i - 1]!).toBe(true);
      expect(Buffer.compare(Buffer.from(ids[i]!), Buffer.from(ids[i - 1]!))).toBe(1);
    }
  });

  it('keeps 80 random bits: ids of one millisecond differ, past the time characters', () => {
    const ids = Array.from({ length: 1000 }, () => newTimeOrderedId(1_700_000_000_000));
    expect(new Set(ids).size).toBe(1000);
    // The first 8 characters are the 48 bits of time; all of them share those.
    expect(new Set(ids.map((id) => id.slice(0, 8))).size).toBe(1);
    expect(new Set(ids.map((id) => id.slice(8, 12))).size).toBeGreaterThan(990);
  });
});
