// Fixed clock, far in the future: MongoDB's TTL monitor deletes documents whose expiresAt has passed in
// real time, which would make expiry tests race it. With year-2100 dates only the `now` passed in matters.

/** The contract suites' "now": 2100-01-01T00:00:00Z. */
export const T0 = Date.parse('2100-01-01T00:00:00.000Z');
/** One hour in milliseconds. */
export const HOUR = 3_600_000;
/** The moment `ms` milliseconds after T0 (before it when negative). */
export const at = (ms: number) => new Date(T0 + ms);
