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

/** Opens GET /diagnostics in a fresh context, uses a throwaway account, and reads the checks once they are done. */
export async function runDiagnostics(browser: Browser, baseUrl: string): Promise<DiagnosticsRun> {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('console', (msg) => msg.type() === 'error' && errors.push(msg.text()));
    page.on('pageerror', (err) => errors.push(err.message));
    const response = await page.goto(`${baseUrl}/diagnostics`);
    await page.waitForSelector('body[data-diagnostics="ready"]');
    await page.click('#throwaway');
    await page.waitForSelector('body[data-diagnostics="done"]', { timeout: RUN_TIMEOUT_MS });
    // After the checks the throwaway account is deleted; the buttons come back once that answered.
    await page.waitForFunction(() => !(globalThis as unknown as { document: { querySelector(s: string): unknown } }).document.querySelector('#throwaway[disabled]'));
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
