import { SignalboxError } from './errors.js';
import type { HttpClient, RequestOptions } from './http.js';
import { JsonSlot, storageKeys, type KeyValueStorage } from './storage.js';
import { exclusive, markRotated, refreshLockName, rotatedElsewhere } from './tabLocks.js';
import type { TokenGrant, User } from './types.js';

/** What the SDK keeps of a session, in the caller's storage, so a reloaded page or restarted app resumes it. */
export interface StoredSession {
  accessToken: string;
  refreshToken: string;
  deviceId: string;
  user: User;
}

/**
 * The signed-in session: its tokens (kept in storage at every change), authenticated requests, and
 * refresh on 401.
 *
 * Refresh is single-flight: the server rotates refresh tokens and ends the whole session when a rotated
 * one is presented again (theft detection), so two requests that hit 401 together must share one
 * refresh. A request whose 401 arrives after another request already refreshed retries with the new
 * token instead of refreshing again.
 *
 * Across tabs sharing one storage (one device), refresh is single-flight too where the Web Locks API
 * exists: each refresh holds a lock named after the device, and first re-reads the stored tokens; when
 * another tab has rotated them meanwhile, those are adopted instead of refreshing (tabLocks.ts).
 */
export class Session {
  private current: StoredSession | null = null;
  private loaded: Promise<void> | null = null;
  private refreshing: Promise<void> | null = null;
  private readonly slot: JsonSlot<StoredSession>;

  constructor(
    private readonly http: HttpClient,
    storage: KeyValueStorage,
    /** Told once each time a session ends: by logout, or because it could not be refreshed. */
    private readonly onSignedOut: (reason: SignalboxError | null) => void,
    /** The server (http.baseUrl): with the device id, it names the cross-tab refresh lock. */
    private readonly baseUrl = http.baseUrl,
  ) {
    this.slot = new JsonSlot(storage, storageKeys.session);
  }

  get user(): User | null {
    return this.current?.user ?? null;
  }

  get deviceId(): string | null {
    return this.current?.deviceId ?? null;
  }

  /** Reads a stored session once (storage may be asynchronous); later calls return at once. */
  load(): Promise<void> {
    this.loaded ??= this.slot.get().then((stored) => {
      // A sign-in that finished while storage was being read wins over what was stored before it.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- parsed from the app's storage unchecked (storage.ts): a field may be missing
      if (!this.current && stored?.accessToken && stored.refreshToken && stored.user) this.current = stored;
    });
    return this.loaded;
  }

  /** Takes the tokens of register or login, replacing any earlier session. */
  async begin(grant: TokenGrant): Promise<void> {
    await this.load();
    this.current = { accessToken: grant.accessToken, refreshToken: grant.refreshToken, deviceId: grant.deviceId, user: grant.user };
    await this.slot.set(this.current);
  }

  /** Replaces the cached user (after GET /users/me or a key upload). */
  async updateUser(user: User): Promise<void> {
    if (!this.current) return;
    this.current = { ...this.current, user };
    await this.slot.set(this.current);
  }

  /** Forgets the session locally and tells the owner; the server side is the caller's business. */
  async end(reason: SignalboxError | null): Promise<void> {
    if (!this.current) return;
    this.current = null;
    await this.slot.remove();
    this.onSignedOut(reason);
  }

  /** The access token, or `signed_out` when there is no session. */
  async token(): Promise<string> {
    await this.load();
    if (!this.current) throw new SignalboxError('signed_out', 'Not signed in: call login() or register() first.');
    return this.current.accessToken;
  }

  /**
   * An authenticated request. On 401 the session is refreshed once (or the refresh another request
   * started is awaited) and the request is sent again; if that refresh is refused the session is over:
   * it is forgotten, 'state' says signed-out, and this throws `signed_out`.
   */
  async request<T>(method: string, path: string, options: Omit<RequestOptions, 'token'> = {}): Promise<T> {
    const token = await this.token();
    try {
      return await this.http.request<T>(method, path, { ...options, token });
    } catch (err) {
      if (!(err instanceof SignalboxError) || err.status !== 401) throw err;
      await this.refreshAfter(token);
      try {
        return await this.http.request<T>(method, path, { ...options, token: await this.token() });
      } catch (again) {
        // A fresh token refused: the session ended between the refresh and this request.
        if (again instanceof SignalboxError && again.status === 401) await this.end(again);
        throw again instanceof SignalboxError && again.status === 401 ? signedOut(again) : again;
      }
    }
  }

  /** Refreshes because `staleToken` got 401, unless that already happened or is happening. */
  private async refreshAfter(staleToken: string): Promise<void> {
    if (this.current && this.current.accessToken !== staleToken) return; // someone else refreshed meanwhile
    const deviceId = this.current?.deviceId ?? '';
    this.refreshing ??= exclusive(refreshLockName(this.baseUrl, deviceId), () => this.refresh()).finally(() => {
      this.refreshing = null;
    });
    await this.refreshing;
  }

  private async refresh(): Promise<void> {
    const before = this.current;
    if (!before) throw new SignalboxError('signed_out', 'Not signed in.');
    // Another tab (or instance) over the same storage may have rotated the tokens already: presenting
    // the old refresh token now would end the session, so its tokens are taken instead.
    if (await this.adoptStored(before)) return;
    const elsewhere = await rotatedElsewhere(this.baseUrl, before.deviceId, before.refreshToken, () => this.adoptStored(before));
    if (elsewhere === 'adopted') return;
    if (elsewhere === 'not-yet-visible') throw new SignalboxError('network', 'Another tab refreshed the session and its new tokens are not in storage yet; try again.');
    let grant: TokenGrant;
    try {
      grant = await this.http.request<TokenGrant>('POST', '/auth/refresh', { body: { refreshToken: before.refreshToken } });
    } catch (err) {
      // Refused (401, or 400 for a token the server cannot even read): the session is gone for good,
      // so it ends here instead of being retried forever. Anything else (network, 5xx, 429) keeps it.
      if (err instanceof SignalboxError && (err.status === 401 || err.status === 400)) {
        await this.end(err);
        throw signedOut(err);
      }
      throw err;
    }
    // Stored before anyone uses it: a crash after this point must not leave the rotated token behind,
    // whose next use would end the session.
    if (this.current !== before) return; // logged out or signed in anew while refreshing
    // The refresh answer always carries the user (docs/api.md, POST /auth/refresh).
    this.current = { ...before, accessToken: grant.accessToken, refreshToken: grant.refreshToken, user: grant.user };
    await this.slot.set(this.current);
    await markRotated(this.baseUrl, before.deviceId, before.refreshToken);
  }

  /** Takes the tokens in storage when another tab (or instance) rotated `before`'s; true when it did. */
  private async adoptStored(before: StoredSession): Promise<boolean> {
    const stored = await this.slot.get();
    if (stored?.deviceId !== before.deviceId || !stored.refreshToken || !stored.accessToken || stored.refreshToken === before.refreshToken) return false;
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- parsed from the app's storage unchecked (storage.ts): a field may be missing
    if (this.current === before) this.current = { ...before, accessToken: stored.accessToken, refreshToken: stored.refreshToken, user: stored.user ?? before.user };
    return true;
  }
}

function signedOut(cause: SignalboxError): SignalboxError {
  return new SignalboxError('signed_out', 'The session has ended; sign in again.', { status: cause.status, cause });
}
