// What the browser tests share: their command line, Debian's Chromium, and
// a logged-in tab that fails its test on page errors or CSP violations.

import assert from 'node:assert/strict';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');

function option(name, fallback) {
  const i = process.argv.indexOf(name);
  return i > 0 && process.argv[i + 1] ? resolve(process.argv[i + 1]) : fallback;
}

/** --ordo, --shots, --console-dir and --chromium, with their defaults. */
export const options = {
  ordo: option('--ordo', join(repo, 'build/ordo')),
  shots: option('--shots', join(repo, 'build/console-shots')),
  consoleDir: option('--console-dir', null),
  chromium: option('--chromium', '/usr/bin/chromium'),
};

/** Headless Chromium with what this machine's closed network needs. */
export function launchChromium() {
  return chromium.launch({
    executablePath: options.chromium,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * A new tab (its own session storage) on the console at `base`, logged in as
 * `operator` with `token` at `hash`: {page, close()}. close() fails the test
 * on uncaught page errors or CSP violations seen meanwhile.
 */
export async function openConsole(browser, base, hash, { token, operator, wait, width = 1280, height = 900 }) {
  const context = await browser.newContext({ viewport: { width, height } });
  const page = await context.newPage();
  page.setDefaultTimeout(wait);
  const problems = [];
  page.on('pageerror', (e) => problems.push(`uncaught: ${e.message}`));
  page.on('console', (m) => {
    if (/Content Security Policy/i.test(m.text())) {
      problems.push(`CSP: ${m.text()}`);
    }
  });
  await page.goto(`${base}/console#${hash}`);
  await login(page, operator, token);
  await page.getByTestId('nav').waitFor();
  return {
    page,
    close: async () => {
      await context.close();
      assert.deepEqual(problems, [], 'the page ran without errors');
    },
  };
}

/** Fills and sends the login form. */
export async function login(page, operator, token) {
  await page.getByTestId('login-operator').fill(operator);
  await page.getByTestId('login-token').fill(token);
  await page.getByTestId('login-submit').click();
}

/** A full-page screenshot to --shots/NAME.png. */
export const shot = (page, name) => page.screenshot({ path: join(options.shots, `${name}.png`), fullPage: true });
