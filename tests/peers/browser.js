// The BROWSER seam for ch's tests: a "browser" that completes a login on the local
// oidc-provider in real headless Chromium.
//
// Usage: node tests/peers/browser.js [ignored...] <AUTHORIZATION_URL>
//        (or tests/peers/browser.sh <URL>, for openers that take a single program path)
// The URL is the last argument. The script launches Chromium through playwright-core with a
// fresh profile, opens the URL, signs in on oidc-provider's development login page, answers
// the consent page, waits until the browser has loaded the loopback redirect URI (the
// `redirect_uri` parameter of the authorization URL), and exits 0. It logs to stderr only.
//
// Environment:
//   CH_TEST_CHROMIUM         Chromium binary (default /usr/bin/chromium)
//   CH_TEST_BROWSER_ACTION   `approve` (default) or `deny`: deny cancels at the consent page,
//                            so the authorization response carries error=access_denied
//   CH_TEST_BROWSER_LOGIN    the login name typed on the login page (default ch-test-user)
//   CH_TEST_BROWSER_TIMEOUT  seconds before giving up (default 60), exit status 3
//
// Network: every host name but localhost and 127.0.0.1 resolves to nothing
// (--host-resolver-rules), so the page's web-font imports and Chromium's own background
// requests never leave the machine.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { launchChromium } from './chromium.js';

const say = (...args) => console.error('[browser.js]', ...args);

const target = process.argv[process.argv.length - 1];
let url;
try {
  url = new URL(target);
} catch {
  say('usage: browser.js <authorization URL>');
  process.exit(2);
}
if (url.protocol !== 'http:' && url.protocol !== 'https:') {
  say(`refusing to open a ${url.protocol} URL`);
  process.exit(2);
}
const redirectUri = url.searchParams.get('redirect_uri');
const action = process.env.CH_TEST_BROWSER_ACTION || 'approve';
if (!['approve', 'deny'].includes(action)) {
  say(`CH_TEST_BROWSER_ACTION must be approve or deny, got ${JSON.stringify(action)}`);
  process.exit(2);
}
const login = process.env.CH_TEST_BROWSER_LOGIN || 'ch-test-user';
const timeoutMs = 1000 * Number(process.env.CH_TEST_BROWSER_TIMEOUT || 60);
const executablePath = process.env.CH_TEST_CHROMIUM || '/usr/bin/chromium';

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ch-test-chromium-'));
const cleanup = () => fs.rmSync(profile, { recursive: true, force: true });

const watchdog = setTimeout(() => {
  say(`gave up after ${timeoutMs / 1000} s`);
  cleanup();
  process.exit(3);
}, timeoutMs);

const reachedRedirect = (u) => redirectUri !== null && u.href.startsWith(redirectUri);

let context;
try {
  context = await launchChromium(profile, executablePath);
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeoutMs);
  say(`opening the authorization URL (action ${action})`);
  await page.goto(url.href, { waitUntil: 'load' });

  for (let step = 0; step < 10 && !reachedRedirect(new URL(page.url())); step += 1) {
    const loginField = page.locator('input[name=login]');
    const continueButton = page.locator('button[type=submit]', { hasText: 'Continue' });
    await Promise.race([
      loginField.waitFor({ state: 'visible' }),
      continueButton.waitFor({ state: 'visible' }),
      page.waitForURL(reachedRedirect, { waitUntil: 'load' }),
    ]);
    if (reachedRedirect(new URL(page.url()))) break;
    if (await loginField.isVisible()) {
      say('signing in');
      await loginField.fill(login);
      await page.locator('input[name=password]').fill('any-password');
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        page.locator('button[type=submit]').click(),
      ]);
    } else if (action === 'deny') {
      say('denying consent');
      await Promise.all([
        page.waitForURL(reachedRedirect, { waitUntil: 'load' }),
        page.locator('a', { hasText: 'Cancel' }).click(),
      ]);
    } else {
      say('granting consent');
      await Promise.all([
        page.waitForNavigation({ waitUntil: 'load' }),
        continueButton.click(),
      ]);
    }
  }
  if (!reachedRedirect(new URL(page.url()))) {
    await page.waitForURL(reachedRedirect, { waitUntil: 'load' });
  }
  const shown = new URL(page.url());
  say(`reached the redirect URI ${shown.origin}${shown.pathname}`);
  await context.close();
  clearTimeout(watchdog);
  cleanup();
  process.exit(0);
} catch (err) {
  say(`failed: ${err?.message ?? err}`);
  try {
    await context?.close();
  } catch {
    // already gone
  }
  clearTimeout(watchdog);
  cleanup();
  process.exit(1);
}
