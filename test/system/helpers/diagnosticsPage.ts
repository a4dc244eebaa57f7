import type { Browser } from 'playwright-core';

/** One check as the page shows it. */
export interface ShownCheck {
  status: string;
  sentence: string;
  figure: string;
  /** The element's other data-* attributes (figures: relayAddress, setupMs, rttMs, localType). */
  data: Record<string, string>;
}

export interface DiagnosticsRun {
  checks: Record<string, ShownCheck>;
  /** The page's status line at the end. */
  statusLine: string;
  /** The main document's Content-Security-Policy header. */
  csp: string | undefined;
  /** Console errors and page errors (a CSP violation shows here). */
  errors: string[];
}

/** The diagnostics checks wait up to 10 s for a relay candidate and 15 s for the call; this bounds one run. */
const RUN_TIMEOUT_MS = 45_000;

/**
 * Opens GET /diagnostics in a fresh context, signs in with `account` through the form (or uses a
 * throwaway account without one), and reads the checks once they are done.
 */
export async function runDiagnostics(browser: Browser, baseUrl: string, account?: { username: string; password: string }): Promise<DiagnosticsRun> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
    page.on('pageerror', (err) => errors.push(err.message));
    const response = await page.goto(`${baseUrl}/diagnostics`);
    await page.waitForSelector('body[data-diagnostics="ready"]');
    if (account) {
      await page.fill('input[name="username"]', account.username);
      await page.fill('input[name="password"]', account.password);
      await page.click('#sign-in-button');
    } else {
      await page.click('#throwaway');
    }
    // The click disables the form at once; it comes back when the visit is over: checks run (or sign-in
    // refused), then signed out or the throwaway account deleted.
    await page.waitForFunction(
      () => !(globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector('#throwaway[disabled]'),
      undefined,
      {
        timeout: RUN_TIMEOUT_MS,
      },
    );
    const checks = await page.$$eval('[data-check]', (items) =>
      Object.fromEntries(
        items.map((item) => {
          const el = item as unknown as { dataset: Record<string, string>; querySelector(s: string): { textContent: string | null } | null };
          const { check, status, ...data } = el.dataset;
          return [
            check,
            {
              status,
              sentence: el.querySelector('.check-sentence')?.textContent ?? '',
              figure: el.querySelector('.check-figure')?.textContent ?? '',
              data,
            },
          ];
        }),
      ),
    );
    const statusLine = await page.$eval('#status', (el) => el.textContent ?? '');
    return { checks: checks as Record<string, ShownCheck>, statusLine, csp: response?.headers()['content-security-policy'], errors };
  } finally {
    await context.close();
  }
}
