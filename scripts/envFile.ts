/**
 * `--env <file>` for the operator scripts (admin, backup): they read the service's env file themselves,
 * so `npm run admin -- --env /etc/signalbox/signalbox.env stats` sees exactly the configuration systemd
 * gives the server, without `sh -c 'set -a; . file'` (which breaks on an unquoted value with `<`, `>`
 * or spaces, as MAIL_FROM has).
 */
import { readFileSync } from 'node:fs';
import { parseEnv } from 'node:util';

/** sysexits(3) EX_NOINPUT: the env file cannot be read. */
const EX_NOINPUT = 66;
const EX_USAGE = 64;

/**
 * Removes `--env <file>` from `args` (anywhere before the command's own arguments) and loads the file
 * into process.env beneath what is already set: like readEnv, a variable of the real environment wins,
 * and the file wins over a `.env` in the working directory. Exits 64 without a file name, 66 when the
 * file cannot be read.
 */
export function applyEnvFileOption(program: string, args: string[]): string[] {
  const at = args.indexOf('--env');
  if (at === -1) return args;
  const file = args[at + 1];
  if (file === undefined || file.startsWith('-')) {
    process.stderr.write(`${program}: --env needs a file name\n`);
    process.exit(EX_USAGE);
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    process.stderr.write(`${program}: cannot read env file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}\n`);
    process.exit(EX_NOINPUT);
  }
  for (const [name, value] of Object.entries(parseEnv(text))) {
    if (process.env[name] === undefined) process.env[name] = value;
  }
  return [...args.slice(0, at), ...args.slice(at + 2)];
}
