/**
 * `npm run backup:decrypt -- (--passphrase-file <file> | --key <private key file> [--key-passphrase-file <file>])
 * <encrypted backup directory> <output directory>`: turns a `backup --encrypt` directory (`*.pgp` files,
 * scripts/backupCrypto.ts) back into the plain files a plain backup holds (`signalbox.db`, `jwt-secret`,
 * `data-key`, ...), mode 0600, in a new or empty output directory. Then restore the output directory as a
 * plain backup (docs/deploy.md §8). Nothing is written when a file does not decrypt (wrong passphrase or
 * key, a file altered after encryption): the output directory is removed again.
 */
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { decryptFile, ENCRYPTED_SUFFIX, readPassphraseFile, readPrivateKeyFile, type DecryptWith } from './backupCrypto.js';

const EX_USAGE = 64;
const EX_DATAERR = 65;
const EX_NOINPUT = 66;
const EX_CANTCREAT = 73;

const USAGE =
  'usage: npm run backup:decrypt -- (--passphrase-file <file> | --key <private key file> [--key-passphrase-file <file>]) ' +
  '<encrypted backup directory> <output directory>';

function fail(code: number, message: string): never {
  process.stderr.write(`signalbox-backup-decrypt: ${message}\n`);
  process.exit(code);
}

interface Args {
  passphraseFile?: string;
  keyFile?: string;
  keyPassphraseFile?: string;
  from: string;
  to: string;
}

function parseArgs(args: string[]): Args {
  const options: Partial<Record<'passphraseFile' | 'keyFile' | 'keyPassphraseFile', string>> = {};
  const flags = { '--passphrase-file': 'passphraseFile', '--key': 'keyFile', '--key-passphrase-file': 'keyPassphraseFile' } as const;
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg in flags) {
      const field = flags[arg as keyof typeof flags];
      const value = args[++i];
      if (value === undefined || value.startsWith('-') || options[field] !== undefined) fail(EX_USAGE, USAGE);
      options[field] = resolve(value);
    } else if (arg.startsWith('-')) fail(EX_USAGE, USAGE);
    else positional.push(arg);
  }
  const oneKey = (options.passphraseFile !== undefined) !== (options.keyFile !== undefined);
  if (positional.length !== 2 || !oneKey || (options.keyPassphraseFile !== undefined && options.keyFile === undefined)) fail(EX_USAGE, USAGE);
  return { ...options, from: resolve(positional[0]!), to: resolve(positional[1]!) };
}

async function main(): Promise<void> {
  process.umask(0o077); // the output holds the data key and password hashes: for the owner only
  const args = parseArgs(process.argv.slice(2));
  let key: DecryptWith;
  try {
    key =
      args.passphraseFile !== undefined
        ? { passphrase: readPassphraseFile(args.passphraseFile) }
        : { key: await readPrivateKeyFile(args.keyFile!, args.keyPassphraseFile === undefined ? undefined : readPassphraseFile(args.keyPassphraseFile)) };
  } catch (err) {
    fail(EX_NOINPUT, `cannot use the key: ${err instanceof Error ? err.message : String(err)}`);
  }
  const names = existsSync(args.from) ? readdirSync(args.from).filter((n) => n.endsWith(ENCRYPTED_SUFFIX)) : [];
  if (!names.includes(`signalbox.db${ENCRYPTED_SUFFIX}`)) fail(EX_NOINPUT, `${args.from} holds no signalbox.db${ENCRYPTED_SUFFIX}: not an encrypted backup`);
  if (existsSync(args.to) && readdirSync(args.to).length > 0) fail(EX_CANTCREAT, `${args.to} is not empty; choose a new directory`);
  const created = !existsSync(args.to);
  mkdirSync(args.to, { recursive: true, mode: 0o700 });
  const written: string[] = [];
  for (const name of names) {
    const plain = name.slice(0, -ENCRYPTED_SUFFIX.length);
    try {
      await decryptFile(join(args.from, name), join(args.to, plain), key);
    } catch (err) {
      // All or nothing: a half-decrypted backup restored by mistake would be worse than none.
      for (const done of written) rmSync(join(args.to, done), { force: true });
      if (created) rmSync(args.to, { recursive: true, force: true });
      fail(EX_DATAERR, `${name} does not decrypt (wrong passphrase or key, or the file was altered): ${err instanceof Error ? err.message : String(err)}`);
    }
    written.push(plain);
  }
  process.stdout.write(`decrypted ${written.join(', ')} to ${args.to}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`signalbox-backup-decrypt: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
