import { existsSync, readFileSync } from 'node:fs';
import type { Browser, BrowserContext, Page, Request } from 'playwright-core';
import type { Clock } from '../../../app/lib/clock.js';
import { BLANK_PATH } from './browser.js';

// Several tabs of one site: pages of ONE browser context, so they share localStorage, Web Locks and
// BroadcastChannel, each running tabsDriver.js over the real SDK. Every request each tab makes is kept.

const DRIVER_FILE = [new URL('./tabsDriver.js', import.meta.url), new URL('../../../../test/system/helpers/tabsDriver.js', import.meta.url)].find((u) => existsSync(u))!;
const DRIVER_PATH = '/__system-test__/tabsDriver.js';

/** The system clock moved ahead on demand: the server's view of "now" jumps past a token's lifetime. */
export class ShiftedClock implements Clock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  advance(seconds: number): void {
    this.offsetMs += seconds * 1000;
  }
}

/** One request as a tab put it on the wire. */
export interface TabRequest {
  method: string;
  path: string;
  at: number;
}

export class Tab {
  readonly requests: TabRequest[] = [];
  readonly console: string[] = [];

  constructor(readonly page: Page) {
    page.on('request', (request: Request) => {
      const url = new URL(request.url());
      this.requests.push({ method: request.method(), path: url.pathname, at: Date.now() });
    });
    page.on('console', (msg) => this.console.push(`${msg.type()}: ${msg.text()}`));
    page.on('pageerror', (err) => this.console.push(`pageerror: ${err.message}`));
  }

  /** Runs `tabs[name](...args)` in the page and returns its (JSON) result. */
  run<T = unknown>(name: string, ...args: unknown[]): Promise<T> {
    return this.page.evaluate(([n, a]) => (globalThis as unknown as { tabs: Record<string, (...x: unknown[]) => unknown> }).tabs[n]!(...a), [
      name,
      args,
    ] as const) as Promise<T>;
  }

  /** This tab's requests to `path`, optionally of one method and from `since` (ms epoch) on. */
  to(path: string, method?: string, since = 0): TabRequest[] {
    return this.requests.filter((r) => r.path === path && (method === undefined || r.method === method) && r.at >= since);
  }
}

/** A browser context (one profile: one localStorage) whose pages are on `baseUrl`'s origin with the driver loaded. */
export class Site {
  private constructor(
    readonly context: BrowserContext,
    private readonly baseUrl: string,
  ) {}

  static async open(browser: Browser, baseUrl: string): Promise<Site> {
    const context = await browser.newContext();
    // The check that the tests test the feature: without Web Locks the SDK runs each tab as before
    // (SIGNALBOX_TEST_NO_WEB_LOCKS=1: every assertion of browserTabs.test.ts fails, see its header).
    if (process.env.SIGNALBOX_TEST_NO_WEB_LOCKS)
      await context.addInitScript(() => {
        const { Navigator } = globalThis as unknown as { Navigator: { prototype: object } };
        Object.defineProperty(Navigator.prototype, 'locks', { get: () => undefined });
      });
    await context.route(`${baseUrl}${BLANK_PATH}`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><meta charset="utf-8"><title>tab</title>' }),
    );
    await context.route(`${baseUrl}${DRIVER_PATH}`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/javascript; charset=utf-8', body: readFileSync(DRIVER_FILE, 'utf8') }),
    );
    return new Site(context, baseUrl);
  }

  /** A new tab of the site with the driver loaded. */
  async tab(): Promise<Tab> {
    const page = await this.context.newPage();
    const tab = new Tab(page);
    await page.goto(`${this.baseUrl}${BLANK_PATH}`);
    await page.addScriptTag({ url: DRIVER_PATH, type: 'module' });
    await page.waitForFunction(() => 'tabs' in globalThis);
    return tab;
  }

  close(): Promise<void> {
    return this.context.close();
  }
}
