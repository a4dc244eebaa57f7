import type { ServerErrorCode } from './types.js';
import { SignalboxError } from './errors.js';

/** The part of a fetch Response the SDK reads. */
export interface ResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export interface RequestInitLike {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  signal?: AbortSignal;
  /** Always 'no-store' from the SDK (see HttpClient.request); a fetch without HTTP cache may ignore it. */
  cache?: 'no-store';
}

/** `fetch` as the SDK calls it: the global one in browsers, React Native and Node 20, or the caller's own. */
export type FetchLike = (url: string, init?: RequestInitLike) => Promise<ResponseLike>;

export interface RequestOptions {
  body?: unknown;
  /** The access token, sent as `Authorization: Bearer`. */
  token?: string;
  signal?: AbortSignal;
}

/** Thrown (as is) when the caller's AbortSignal ended the request: not a failure to report. */
export class AbortedError extends Error {
  override readonly name = 'AbortError';
}

/** `Retry-After` in milliseconds: seconds (what Signalbox sends) or an HTTP date. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (value === null) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** JSON over fetch against one server; every non-2xx answer becomes a SignalboxError with the server's code. */
export class HttpClient {
  constructor(
    readonly baseUrl: string,
    private readonly fetchFn: FetchLike,
  ) {}

  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    let res: ResponseLike;
    let text: string;
    try {
      res = await this.fetchFn(this.baseUrl + path, {
        method,
        headers,
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: options.signal,
        // Past the browser's HTTP cache: Chromium lets only one request per URL through its cache at a
        // time and holds an identical one (another device's long-poll in the same browser, e.g. two
        // accounts or a linking device and its new device in one page) for up to 20 s. Every answer of
        // the API is `no-store` anyway.
        cache: 'no-store',
      });
      text = await res.text();
    } catch (err) {
      if (options.signal?.aborted) throw new AbortedError('aborted');
      throw new SignalboxError('network', `${method} ${path} got no answer: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    const json = parseJson(text);
    if (res.status >= 200 && res.status < 300) {
      if (res.status === 204 || text === '') return undefined as T;
      if (json === undefined) throw new SignalboxError('bad_answer', `${method} ${path} answered ${res.status} without JSON.`, { status: res.status });
      return json as T;
    }
    const error = (json as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
    throw new SignalboxError(
      // The server's code, one of its registry's (ServerErrorCode, from its OpenAPI document).
      typeof error?.code === 'string' ? (error.code as ServerErrorCode) : (`http_${res.status}` as const),
      typeof error?.message === 'string' ? error.message : `${method} ${path} answered ${res.status}.`,
      {
        status: res.status,
        details: typeof error?.details === 'object' && error.details !== null ? (error.details as Record<string, unknown>) : undefined,
        retryAfterMs: parseRetryAfter(res.headers.get('retry-after')),
      },
    );
  }
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
