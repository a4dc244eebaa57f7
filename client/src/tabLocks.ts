// Several tabs of one site over one shared storage (localStorage) are one session, so one device, with one
// refresh token (client/README.md "Several tabs"). A refresh presents it and rotates it: two tabs that both
// presented it would end the session (theft detection). `exclusive()` runs each refresh under a Web Lock
// named after the device, and Session re-reads the stored tokens inside it, so a tab adopts the tokens
// another tab just rotated instead of presenting the old refresh token again. Who polls is tabLeader.ts.
//
// This needs the Web Locks API (`navigator.locks`). Without it (Node 20 and 22, React Native) every
// instance refreshes on its own.

/** The part of the Web Locks API (navigator.locks) used here. */
export interface LockManagerLike {
  request<T>(name: string, options: { signal?: AbortSignal; ifAvailable?: boolean }, callback: (lock: unknown) => T | Promise<T>): Promise<T>;
  query(): Promise<{ held?: Array<{ name?: string }> }>;
}

/** The lock manager (browsers, Node 24), or null (Node 20 and 22, React Native, old browsers). */
export function webLocks(): LockManagerLike | null {
  const locks = (globalThis as { navigator?: { locks?: Partial<LockManagerLike> } }).navigator?.locks;
  return typeof locks?.request === 'function' ? (locks as LockManagerLike) : null;
}

/** Lock and channel names of one device of one server: tabs of other sessions (other storage) do not contend. */
export const deviceScope = (baseUrl: string, deviceId: string) => `signalbox:${baseUrl}:${deviceId}`;
export const refreshLockName = (baseUrl: string, deviceId: string) => `${deviceScope(baseUrl, deviceId)}:refresh`;

/** Runs `body` holding the lock `name` across this origin's tabs (and workers); at once where there are no Web Locks. */
export async function exclusive<T>(name: string, body: () => Promise<T>, locks: LockManagerLike | null = webLocks()): Promise<T> {
  if (!locks) return body();
  return locks.request(name, {}, body);
}

/**
 * How long a tab that rotated the refresh token says so (a held lock named after the old token).
 * localStorage is only eventually consistent between a browser's processes: the next tab to take the
 * refresh lock may still read the old tokens for a few milliseconds. The lock manager is not: a tab
 * that finds this mark knows its refresh token is spent and waits for the new one instead of presenting it.
 */
const ROTATED_MARK_MS = 60_000;
/** How long a tab waits for rotated tokens to show in its storage before giving up this once. */
const ROTATED_WAIT_MS = 3_000;

async function rotatedMarkName(baseUrl: string, deviceId: string, refreshToken: string): Promise<string> {
  const digest = await globalThis.crypto.subtle.digest('SHA-256', new TextEncoder().encode(refreshToken));
  const hex = Array.from(new Uint8Array(digest).slice(0, 16), (b) => b.toString(16).padStart(2, '0')).join('');
  return `${deviceScope(baseUrl, deviceId)}:rotated:${hex}`;
}

/** Called inside the refresh lock after rotating `oldRefreshToken` (and storing the new tokens): marks it spent for the other tabs. */
export async function markRotated(baseUrl: string, deviceId: string, oldRefreshToken: string, locks: LockManagerLike | null = webLocks()): Promise<void> {
  if (!locks) return;
  const name = await rotatedMarkName(baseUrl, deviceId, oldRefreshToken);
  await new Promise<void>((granted) => {
    locks
      .request(name, {}, () => {
        granted();
        return new Promise<void>((release) => setTimeout(release, ROTATED_MARK_MS));
      })
      .catch(() => granted());
  });
}

/**
 * Called inside the refresh lock when storage still shows `refreshToken`: whether another tab rotated
 * it already (then `adopt` is retried until storage shows the new tokens, up to a few seconds: true
 * once adopted; false with nothing adopted means: do not present it, it is spent).
 */
export async function rotatedElsewhere(
  baseUrl: string,
  deviceId: string,
  refreshToken: string,
  adopt: () => Promise<boolean>,
  locks: LockManagerLike | null = webLocks(),
): Promise<'no' | 'adopted' | 'not-yet-visible'> {
  if (!locks) return 'no';
  const name = await rotatedMarkName(baseUrl, deviceId, refreshToken);
  const { held = [] } = await locks.query();
  if (!held.some((lock) => lock.name === name)) return 'no';
  for (const deadline = Date.now() + ROTATED_WAIT_MS; Date.now() < deadline;) {
    if (await adopt()) return 'adopted';
    await new Promise((r) => setTimeout(r, 20));
  }
  return 'not-yet-visible';
}
