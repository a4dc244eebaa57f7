import { existsSync, readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { openBlankPage } from './browser.js';

// One device of one user: a browser context of its own (its own storage, as a separate phone or
// browser would have) with a page on the server's origin running pageDriver.js over the real SDK.

/** Next to this file in the sources; from dist/test/system/helpers (the bench's build) tsc did not copy it there. */
const DRIVER_FILE = [new URL('./pageDriver.js', import.meta.url), new URL('../../../../test/system/helpers/pageDriver.js', import.meta.url)].find((u) => existsSync(u))!;
const DRIVER_PATH = '/__system-test__/pageDriver.js';

/** What a call looks like from one side (pageDriver.js `describe`). */
export interface CallInfo {
  sessionId: string;
  peer: string;
  peerDevice: string | null;
  setupMs?: number;
  connectionState: string;
  iceConnectionState: string;
  channelState: string | null;
  remoteIceUfrag: string | null;
  closes: Array<{ reason: string; by: string }>;
  states: string[];
}

export interface Ring {
  from: string;
  fromDevice: string;
  sessionId: string;
  state: string;
  closedAs: string | null;
}

export interface SentSignal {
  /** The JSON body of POST /signaling/send as it left the browser. */
  body: string;
}

export class BrowserDevice {
  /** Every POST /signaling/send body this device put on the wire. */
  readonly sent: SentSignal[] = [];

  private constructor(
    readonly context: BrowserContext,
    readonly page: Page,
    /** Console output and page errors, for the reason behind a failure. */
    readonly console: string[],
  ) {
    page.on('request', (request) => {
      if (request.method() === 'POST' && new URL(request.url()).pathname === '/signaling/send') this.sent.push({ body: request.postData() ?? '' });
    });
  }

  /** A fresh context with the driver loaded on `baseUrl`'s origin. */
  static async open(browser: Browser, baseUrl: string): Promise<BrowserDevice> {
    const { context, page, console } = await openBlankPage(browser, baseUrl);
    await page.route(`${baseUrl}${DRIVER_PATH}`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body: readFileSync(DRIVER_FILE, 'utf8') }),
    );
    await page.addScriptTag({ url: DRIVER_PATH, type: 'module' });
    await page.waitForFunction(() => 'driver' in globalThis);
    return new BrowserDevice(context, page, console);
  }

  /** Runs `driver[name](...args)` in the page and returns its (JSON) result. */
  run<T = unknown>(name: string, ...args: unknown[]): Promise<T> {
    return this.page.evaluate(([n, a]) => (globalThis as unknown as { driver: Record<string, (...x: unknown[]) => unknown> }).driver[n]!(...a), [
      name,
      args,
    ] as const) as Promise<T>;
  }

  async close(): Promise<void> {
    await this.run('stop').catch(() => {});
    await this.context.close();
  }
}

/** A made-up account: the username fits the API's rule, the password its length rule. */
export function account(prefix: string): { username: string; password: string } {
  return { username: `${prefix}_${Math.random().toString(36).slice(2, 10)}`, password: 'correct horse battery' };
}
