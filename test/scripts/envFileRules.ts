/**
 * How systemd reads an EnvironmentFile= (systemd.exec(5); parse_env_file in systemd 252, the version of
 * Debian 12): `#`/`;` comment lines, `NAME=value` with whitespace around trimmed, a value opened by `'` is
 * literal up to the next `'`, a value opened by `"` runs to the next unescaped `"` where a backslash before
 * one of " \ ` $ yields that character and before anything else stays, and an unquoted value takes a
 * backslash as escaping the next character. Enough of it to compare with sh on the files install.sh writes.
 */
const NEEDS_ESCAPE = '"\\`$';

export function parseSystemdEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trimStart();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq === -1) continue;
    const name = line.slice(0, eq).trim();
    const rest = line.slice(eq + 1).trimStart();
    let value = '';
    if (rest.startsWith("'")) {
      const end = rest.indexOf("'", 1);
      if (end === -1) throw new Error(`unterminated ' in ${name}`);
      value = rest.slice(1, end);
    } else if (rest.startsWith('"')) {
      let i = 1;
      for (; i < rest.length && rest[i] !== '"'; i++) {
        if (rest[i] === '\\' && i + 1 < rest.length) {
          i++;
          value += NEEDS_ESCAPE.includes(rest[i]!) ? rest[i]! : `\\${rest[i]!}`;
        } else value += rest[i]!;
      }
      if (i >= rest.length) throw new Error(`unterminated " in ${name}`);
    } else {
      for (let i = 0; i < rest.length; i++) value += (rest[i] === '\\' && i + 1 < rest.length ? rest[++i] : rest[i])!;
      value = value.trimEnd();
    }
    out[name] = value;
  }
  return out;
}
