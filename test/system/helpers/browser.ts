import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

// Debian's Chromium (apt-get install chromium; .ci/run does it), driven by playwright-core, which
// brings no browser of its own. Playwright gives each launch a fresh, empty profile directory.

const CHROMIUM = '/usr/bin/chromium';

/**
 * The flags that work here as root: no sandbox (root), no GPU (headless server), and nothing that
 * reaches out to Google's hosts, which this machine's closed network refuses. WebRTC needs one more:
 * Chromium leaves loopback addresses out of ICE unless told, and everything in these tests is loopback.
 */
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--allow-loopback-in-peer-connection',
];

/** Launches headless Chromium; throws a plain sentence when it is not installed. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (.ci/run does this)`);
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true });
}

/** The path of an empty HTML page on the server's origin, answered by the test itself (the app has no such page). */
export const BLANK_PATH = '/__system-test__/blank.html';

/**
 * A page on `baseUrl`'s origin (a secure context, since it is 127.0.0.1) in its own context, so its
 * storage and state are its own, as a separate device's would be. Console errors are collected.
 */
export async function openBlankPage(browser: Browser, baseUrl: string): Promise<{ context: BrowserContext; page: Page; console: string[] }> {
  const context = await browser.newContext();
  const page = await context.newPage();
  const console: string[] = [];
  page.on('console', (msg) => console.push(`${msg.type()}: ${msg.text()}`));
  page.on('pageerror', (err) => console.push(`pageerror: ${err.message}`));
  await page.route(`${baseUrl}${BLANK_PATH}`, (route) =>
    route.fulfill({ status: 200, contentType: 'text/html; charset=utf-8', body: '<!doctype html><meta charset="utf-8"><title>system test</title>' }),
  );
  await page.goto(`${baseUrl}${BLANK_PATH}`);
  return { context, page, console };
}
