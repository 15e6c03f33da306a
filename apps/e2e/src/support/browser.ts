import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Browser, Locator, Page, chromium } from 'playwright-core';
import { withRetries } from '@mdm/platform/retry';

const root = path.resolve(__dirname, '../../../..');
/** Screenshots of the browser tests, kept as test artifacts (gitignored). */
export const artifactsDir = path.join(root, 'test-artifacts/console');
export const consoleBuild = path.join(root, 'dist/apps/console/index.html');

/** Debian's chromium package (`.ci/run` installs it): playwright-core drives it, no browser is downloaded. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
}

/** A new browser session (its own session storage) signed in to the console with `token`. */
export async function signIn(browser: Browser, baseUrl: string, token: string): Promise<Page> {
  const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
  await page.goto(baseUrl);
  await page.getByLabel('Token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(artifactsDir, { recursive: true });
  const file = path.join(artifactsDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

const axeSource = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');

// Run in the page, so written as its source (this project's type check has no DOM). Fluent UI's focus
// manager (Tabster) puts hidden focus sentinels around dialogs and lists that hand focus straight on;
// axe reports them as focusable hidden elements, which they are by design, so they are left out.
const runAxe = `(async () => {
  const { violations } = await window.axe.run({ exclude: [['[data-tabster-dummy]']] });
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, targets: v.nodes.map((n) => n.target.join(' ')) }));
})()`;

/** axe-core's serious and critical violations on the page as it is (evaluated past the page's CSP). */
export async function seriousViolations(page: Page): Promise<{ id: string; impact: string; targets: string[] }[]> {
  await page.evaluate(axeSource);
  type Violation = { id: string; impact: string; targets: string[] };
  // A dialog or button still fading in has colours between two states: a violation that is gone a
  // moment later was the animation's. One that stays is reported.
  return withRetries<Violation[]>(
    { retries: 4, backoff: { initialMs: 500, maxMs: 500 }, retryAnswer: (found) => found.length > 0 },
    async () => (await page.evaluate(runAxe)) as Violation[],
  );
}

/** Waits until the locator's text matches, as the page refreshes itself. */
export async function untilText(locator: Locator, expected: RegExp, timeoutMs = 30_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    last = (await locator.textContent({ timeout: 2_000 }).catch(() => null)) ?? '';
    if (expected.test(last)) return last;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`expected ${expected} but the page shows "${last}"`);
}

/** Presses Tab until the focused element's accessible text matches: proves an action is reachable by keyboard. */
export async function tabTo(page: Page, name: RegExp, maxTabs = 60): Promise<void> {
  for (let i = 0; i < maxTabs; i++) {
    await page.keyboard.press('Tab');
    const focused = await page.evaluate<string>(
      "(() => { const el = document.activeElement; return el ? `${el.getAttribute('aria-label') ?? ''} ${el.innerText ?? ''}`.trim() : ''; })()",
    );
    if (name.test(focused)) return;
  }
  throw new Error(`${name} is not reachable with Tab`);
}

/** The names of the buttons the page shows. */
export function buttonNames(page: Page): Promise<string[]> {
  return page.getByRole('button').allInnerTexts().then((names) => names.map((n) => n.trim()));
}
