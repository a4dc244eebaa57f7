/**
 * The operator's command line: `npm run admin -- <command>` (or `node dist/scripts/admin.js <command>`
 * as the service user, with the same environment as the server). It reads the configuration exactly as
 * the server does (app/boot.ts), so it works on the SQLite file in DATA_DIR or on MongoDB alike, and it
 * is safe to run while the server runs: every change is one store call the server sees at once.
 * It never creates an installation: with no database (or no secrets) where the configuration points,
 * it exits 66 (or 78) and leaves the place as it was.
 */
import { openStore } from '../app/boot.js';
import { decryptBirthday, decryptEmail, normaliseUsername } from '../app/core/personalData.js';
import { SecurityEvents, OPERATOR } from '../app/accounts/securityEvents.service.js';
import { FieldCipher } from '../app/lib/fieldCipher.js';
import { systemClock } from '../app/lib/clock.js';
import { purgeExpired } from '../app/store/purge.js';
import type { Store, UserRecord } from '../app/store/types.js';
import { applyEnvFileOption } from './envFile.js';
import { loadExistingConfigOrExit } from './existingInstallation.js';

// sysexits(3): the codes scripts around this CLI can tell apart.
const EX_USAGE = 64;
const EX_NOUSER = 67;
/** Users fetched per store call by `users list`, so a large directory is never loaded at once. */
const LIST_PAGE = 500;

const USAGE = `usage: npm run admin -- [--env <file>] <command>

  --env <file>               read the configuration from this env file (e.g. /etc/signalbox/signalbox.env)

commands:
  users list                 every account: username, id, created, status
  users show <username>      one account in detail (e-mail and birthday decrypted)
  users disable <username>   refuse its logins and end all its sessions now
  users enable <username>    allow its logins again
  users delete <username>    delete the account and everything it owns
  2fa-reset <username>       turn its two-factor authentication off (recovery codes too) and end all its sessions
  security-events <username> its security log, newest first (logins, password, 2FA and key changes, these commands)
  purge                      remove expired sessions, codes, requests, signals and counters now
  stats                      counts of users, connections, pending signals (server events included) and sessions
`;

/** A command line the CLI cannot run: usage on stderr, exit 64. */
class UsageError extends Error {}

/** A username argument that names nobody: exit 67. */
class NoUserError extends Error {}

const out = (line: string) => process.stdout.write(`${line}\n`);

/** Usernames are stored lower case; a leading @ is accepted as everywhere else. */
async function findUser(store: Store, arg: string | undefined): Promise<UserRecord> {
  if (!arg) throw new UsageError('a username is required');
  const username = normaliseUsername(arg);
  const user = await store.users.findByUsername(username);
  if (!user) throw new NoUserError(`no user named ${username}`);
  return user;
}

const status = (u: UserRecord) => (u.disabledAt ? `disabled since ${u.disabledAt.toISOString()}` : 'active');

/** Decrypts a field (null: none), or says why not, so one bad key never hides the rest of the record. */
function readable(decrypt: () => string | null): string {
  try {
    return decrypt() ?? '-';
  } catch {
    return '(cannot decrypt: is DATA_KEY the one this database was written with?)';
  }
}

/** Every entry of one account's log the store keeps (SECURITY_EVENTS_TTL), newest first. */
const SECURITY_EVENTS_SHOWN = 1000;

async function run(store: Store, cipher: FieldCipher, log: SecurityEvents, args: string[]): Promise<void> {
  const [command, sub, arg, ...rest] = args;
  const now = new Date();
  if (command === '2fa-reset' || command === 'security-events') {
    if (arg !== undefined) throw new UsageError(`unexpected argument ${arg}`);
    const u = await findUser(store, sub);
    if (command === 'security-events') {
      out(['AT', 'TYPE', 'BY', 'DEVICE', 'PLATFORM', 'NETWORK'].join('\t'));
      for (const e of await log.list(u.id, SECURITY_EVENTS_SHOWN)) {
        out([e.at.toISOString(), e.type, e.actor, e.deviceId ?? '-', e.platform ?? '-', e.network ?? '-'].join('\t'));
      }
      return;
    }
    // For an owner locked out by a second factor they never set up (or lost with every recovery code):
    // the factor and its codes go, and every session ends, so whoever holds one is out too.
    const hadFactor = (await store.twoFactor.get(u.id))?.enabled === true;
    await store.twoFactor.delete(u.id); // a pending setup goes too
    const ended = await store.sessions.deleteByUser(u.id);
    await store.presence.signOut(u.id, now);
    if (hadFactor) await log.record(u.id, '2fa.disabled', OPERATOR, 'admin'); // nothing to log when it was off
    out(`${hadFactor ? 'two-factor authentication turned off' : 'two-factor authentication was already off'} for ${u.username}; ${ended} session(s) ended`);
    return;
  }
  if (command === 'users') {
    if (sub === 'list' && arg === undefined) {
      out(['USERNAME', 'ID', 'CREATED', 'STATUS'].join('\t'));
      let after: string | null = null;
      for (;;) {
        const page = await store.users.list(after, LIST_PAGE);
        for (const u of page) out([u.username, u.id, u.createdAt.toISOString(), status(u)].join('\t'));
        if (page.length < LIST_PAGE) return;
        after = page[page.length - 1]!.username;
      }
    }
    if (rest.length > 0) throw new UsageError(`unexpected argument ${rest[0]}`);
    switch (sub) {
      case 'show': {
        const u = await findUser(store, arg);
        const twoFactor = await store.twoFactor.get(u.id);
        out(`username:    ${u.username}`);
        out(`id:          ${u.id}`);
        out(`email:       ${readable(() => decryptEmail(cipher, u))}`);
        out(`birthday:    ${readable(() => decryptBirthday(cipher, u))}`);
        out(`created:     ${u.createdAt.toISOString()}`);
        out(`status:      ${status(u)}`);
        const codesLeft = twoFactor?.enabled ? await store.twoFactor.countRecoveryCodes(u.id) : 0;
        out(`two-factor:  ${twoFactor?.enabled ? `on (${codesLeft} unused recovery code${codesLeft === 1 ? '' : 's'})` : 'off'}`);
        out(`pgp key:     ${u.pgp ? `${u.pgp.fingerprint} (${u.pgp.algorithm})` : '-'}`);
        return;
      }
      case 'disable': {
        const u = await findUser(store, arg);
        // Ends every session in the same store call; new logins are refused (AccountService.login and
        // sessions.create), so no request of theirs is served from here on.
        await store.users.setDisabled(u.id, now);
        await store.presence.signOut(u.id, now); // shown offline at once, as after a logout
        await log.record(u.id, 'account.disabled', OPERATOR, 'admin');
        out(`disabled ${u.username}; all sessions ended`);
        return;
      }
      case 'enable': {
        const u = await findUser(store, arg);
        await store.users.setDisabled(u.id, null);
        out(`enabled ${u.username}`);
        return;
      }
      case 'delete': {
        const u = await findUser(store, arg);
        await store.users.delete(u.id);
        out(`deleted ${u.username} and everything it owned`);
        return;
      }
      default:
        throw new UsageError(sub ? `unknown users command ${sub}` : 'users needs a command');
    }
  }
  if (sub !== undefined) throw new UsageError(`unexpected argument ${sub}`);
  switch (command) {
    case 'purge': {
      const removed = await purgeExpired(store, now);
      for (const [aggregate, n] of Object.entries(removed)) out(`${aggregate}: ${n} removed`);
      return;
    }
    case 'stats': {
      const connections = await store.connections.count(now);
      out(`users: ${await store.users.count()}`);
      out(`connections: ${connections.accepted}`);
      out(`pending requests: ${connections.pending}`);
      // Checked rather than assumed, so this CLI also runs against a store without mailboxes.
      if ('signals' in store) out(`pending signals: ${await store.signals.countPending(now)}`);
      out(`sessions: ${await store.sessions.countActive(now)}`);
      return;
    }
    default:
      throw new UsageError(command ? `unknown command ${command}` : 'a command is required');
  }
}

async function main(): Promise<void> {
  process.umask(0o077); // like the server: anything created (a new database, secrets) is the service's alone
  const args = applyEnvFileOption('signalbox-admin', process.argv.slice(2));
  // Usage mistakes are answered before the configuration is read or the store opened.
  if (args.length === 0 || args[0] === '-h' || args[0] === '--help' || args[0] === 'help') {
    process.stderr.write(USAGE);
    process.exit(args.length === 0 ? EX_USAGE : 0);
  }
  if (!['users', 'purge', 'stats', '2fa-reset', 'security-events'].includes(args[0]!)) {
    process.stderr.write(`signalbox-admin: unknown command ${args[0]}\n${USAGE}`);
    process.exit(EX_USAGE);
  }
  const config = await loadExistingConfigOrExit('signalbox-admin');
  const store = await openStore(config);
  let code = 0;
  try {
    const cipher = new FieldCipher(config.dataKey);
    await run(store, cipher, new SecurityEvents({ store, cipher, clock: systemClock, ttlSeconds: config.securityEventsTtl }), args);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`signalbox-admin: ${err.message}\n${USAGE}`);
      code = EX_USAGE;
    } else if (err instanceof NoUserError) {
      process.stderr.write(`signalbox-admin: ${err.message}\n`);
      code = EX_NOUSER;
    } else {
      throw err;
    }
  } finally {
    await store.close();
  }
  process.exitCode = code;
}

main().catch((err: unknown) => {
  process.stderr.write(`signalbox-admin: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
