import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from './helpers/browser.js';
import { startCoturn, type Coturn } from './helpers/coturn.js';
import { startServer, type RunningServer } from './helpers/server.js';

// examples/two-person-call/ as a person uses it: two browser contexts (two people) open the page the
// server serves at /examples/two-person-call/ (EXAMPLES=true), and everything happens through its UI
// (data-testid attributes): sign up, search, connect, a relay-only call through a real coturn, and a
// message each way over the call's data channel. All on 127.0.0.1.

/** Bounds for steps that take well under a second or two on loopback; generous for a loaded CI machine. */
const STEP_MS = 20_000;

let coturn: Coturn;
let server: RunningServer;
let browser: Browser;
const contexts: BrowserContext[] = [];

beforeAll(async () => {
  coturn = await startCoturn();
  server = await startServer({ TURN_URLS: coturn.url, TURN_SECRET: coturn.secret, EXAMPLES: 'true' });
  browser = await launchChromium();
});

afterAll(async () => {
  await Promise.all(contexts.map((c) => c.close()));
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await browser?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await server?.close();
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the setup failed before creating it
  await coturn?.stop();
});

interface Person {
  page: Page;
  username: string;
  problems: string[];
}

const byTestId = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`);

/** A new person in their own browser context, signed up through the page's form. */
async function signUp(prefix: string): Promise<Person> {
  const context = await browser.newContext();
  contexts.push(context);
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  // Any console error (a Content-Security-Policy refusal, a failed load) fails the test at its end.
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(msg.text());
  });
  const username = `${prefix}${Math.random().toString(36).slice(2, 8)}`;
  await page.goto(`${server.baseUrl}/examples/two-person-call/`);
  await byTestId(page, 'username').fill(username);
  await byTestId(page, 'email').fill(`${username}@example.com`);
  await byTestId(page, 'password').fill('correct horse battery staple');
  await byTestId(page, 'register').click();
  await byTestId(page, 'contacts')
    .waitFor({ state: 'visible', timeout: STEP_MS })
    .catch(async (err: unknown) => {
      // The page's status line, its console errors and the server's failures say what went wrong.
      throw new Error(
        `${(err as Error).message}\nstatus: ${await byTestId(page, 'status').textContent()}\n${problems.join('\n')}\n${JSON.stringify(server.logs.filter((l) => Number(l.status) >= 500 || Number(l.level) >= 40).slice(0, 5))}`,
      );
    });
  return { page, username, problems };
}

describe('examples/two-person-call in Chromium', () => {
  it('serves the page with the strict policy of /diagnostics', async () => {
    const res = await fetch(`${server.baseUrl}/examples/two-person-call/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self' 'wasm-unsafe-eval'");
    expect(await res.text()).toContain('data-testid="register"');
  });

  it('takes two people from sign-up to a relay-only call with a data-channel message each way, safety numbers and a key change', async () => {
    const ana = await signUp('ana');
    const ben = await signUp('ben');

    // Ana finds Ben and asks to connect; Ben accepts from his requests list.
    await byTestId(ana.page, 'search-input').fill(ben.username.slice(0, 5));
    await byTestId(ana.page, 'search').click();
    await byTestId(ana.page, `connect-${ben.username}`).click({ timeout: STEP_MS });
    await byTestId(ben.page, `accept-${ana.username}`).click({ timeout: STEP_MS });
    await byTestId(ana.page, `call-${ben.username}`).waitFor({ timeout: STEP_MS });

    // A relay-only call: every packet through coturn.
    await byTestId(ana.page, 'relay-only').check();
    await byTestId(ben.page, 'relay-only').check();
    await byTestId(ana.page, `call-${ben.username}`).click();
    await byTestId(ben.page, 'answer').click({ timeout: STEP_MS });
    for (const p of [ana, ben]) {
      await byTestId(p.page, 'call-status')
        .filter({ hasText: /^connected$/ })
        .waitFor({ timeout: STEP_MS });
    }

    await byTestId(ana.page, 'chat-input').fill('hello from ana');
    await byTestId(ana.page, 'chat-send').click();
    await byTestId(ben.page, 'chat-log').getByText('hello from ana').waitFor({ timeout: STEP_MS });
    await byTestId(ben.page, 'chat-input').fill('hi ana, ben here');
    await byTestId(ben.page, 'chat-send').click();
    await byTestId(ana.page, 'chat-log').getByText('hi ana, ben here').waitFor({ timeout: STEP_MS });

    // The safety-number screen shows the same 60 digits on both sides.
    await byTestId(ana.page, `safety-${ben.username}`).click();
    await byTestId(ben.page, `safety-${ana.username}`).click();
    const digits = await Promise.all(
      [ana, ben].map(async (p) => (await byTestId(p.page, 'safety-number').filter({ hasText: /\d{5}/ }).textContent({ timeout: STEP_MS }))!.trim()),
    );
    expect(digits[0]!.replace(/\D/g, '')).toHaveLength(60);
    expect(digits[1]).toBe(digits[0]);

    // Ben replaces his key (a reinstall): Ana gets the key-change prompt and accepts the new key.
    ben.page.once('dialog', (dialog) => void dialog.accept());
    await byTestId(ben.page, 'new-key').click();
    await byTestId(ana.page, 'trust')
      .filter({ hasText: `@${ben.username}'s security key changed` })
      .waitFor({ timeout: STEP_MS });
    const changedDigits = (await byTestId(ana.page, 'safety-number').textContent())!.trim();
    expect(changedDigits).not.toBe(digits[0]);
    await byTestId(ana.page, 'accept-change').click();
    await byTestId(ana.page, 'trust').waitFor({ state: 'hidden', timeout: STEP_MS });
    await byTestId(ana.page, 'status')
      .filter({ hasText: `Accepted @${ben.username}'s new key` })
      .waitFor({ timeout: STEP_MS });

    expect([...ana.problems, ...ben.problems]).toEqual([]);
  });

  it("links a second device of one person by code: the new device gets the account's key and enters the app", async () => {
    const cy = await signUp('cy');
    const context = await browser.newContext();
    contexts.push(context);
    const phone = await context.newPage();
    await phone.goto(`${server.baseUrl}/examples/two-person-call/`);
    await byTestId(phone, 'username').fill(cy.username);
    await byTestId(phone, 'password').fill('correct horse battery staple');
    await byTestId(phone, 'login').click();
    // The account's key is on the first device: the new one offers the backup or a link code, not a new key.
    await byTestId(phone, 'link-device').click({ timeout: STEP_MS });
    const code = (await byTestId(phone, 'link-code').filter({ hasText: /-/ }).textContent({ timeout: STEP_MS }))!.trim();
    expect(code).toMatch(/^[A-Z0-9]{4}(-[A-Z0-9]{4})+$/);
    await byTestId(cy.page, 'approve-code').fill(code);
    await byTestId(cy.page, 'approve').click();
    await byTestId(phone, 'contacts').waitFor({ state: 'visible', timeout: STEP_MS });
    await byTestId(phone, 'status')
      .filter({ hasText: /holds your key|Signed in as/ })
      .waitFor({ timeout: STEP_MS });
    expect(cy.problems).toEqual([]);
  });
});
