/**
 * The exclusive upper bound of a prefix range: every string starting with `prefix` sorts at or after
 * `prefix` and before this. Usernames are ASCII `[a-z0-9_]`, so bumping the last character by one
 * code point is exact under binary (SQLite BINARY, MongoDB simple) ordering, and unlike LIKE or a
 * regex it needs no escaping: `_` is just a character here.
 */
export function prefixUpperBound(prefix: string): string {
  if (prefix.length === 0) throw new Error('empty prefix');
  return prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1);
}
