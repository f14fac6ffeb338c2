// The user's side of the device authorization grant (RFC 8628) on the local oidc-provider, in
// real headless Chromium: the person who reads the code on their terminal and approves it in a
// browser on another device.
//
// Usage: node tests/peers/device-browser.js [ignored...] <VERIFICATION_URI>
// The URL is the last argument, so the script also works as a BROWSER command. With the
// complete URI (`.../device?user_code=XXXX-XXXX`) the code is filled in and the script only
// confirms it; with the bare `verification_uri` the script types CH_TEST_USER_CODE into the
// code form first. Then it signs in on oidc-provider's development login page, answers the
// consent page, waits for the "Sign-in Success" page, and exits 0. It logs to stderr only.
//
// Environment:
//   CH_TEST_CHROMIUM         Chromium binary (default /usr/bin/chromium)
//   CH_TEST_USER_CODE        the user code to type when the URL does not carry one
//   CH_TEST_BROWSER_ACTION   `approve` (default); `deny`: sign in, then cancel at the consent
//                            page; `abort`: press [ Abort ] on the code confirmation page.
//                            Both refusals make the token endpoint answer access_denied.
//   CH_TEST_BROWSER_LOGIN    the login name typed on the login page (default ch-test-user)
//   CH_TEST_BROWSER_TIMEOUT  seconds before giving up (default 60), exit status 3
//
// Network: every host name but localhost and 127.0.0.1 resolves to nothing
// (--host-resolver-rules), so the pages' web-font imports and Chromium's own background
// requests never leave the machine.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import { launchChromium } from './chromium.js';

const say = (...args) => console.error('[device-browser.js]', ...args);

const target = process.argv[process.argv.length - 1];
let url;
try {
  url = new URL(target);
} catch {
  say('usage: device-browser.js <verification URI>');
  process.exit(2);
}
if (url.protocol !== 'http:' && url.protocol !== 'https:') {
  say(`refusing to open a ${url.protocol} URL`);
  process.exit(2);
}
const action = process.env.CH_TEST_BROWSER_ACTION || 'approve';
if (!['approve', 'deny', 'abort'].includes(action)) {
  say(`CH_TEST_BROWSER_ACTION must be approve, deny or abort, got ${JSON.stringify(action)}`);
  process.exit(2);
}
const typedCode = url.searchParams.get('user_code') ? null : process.env.CH_TEST_USER_CODE;
if (!url.searchParams.get('user_code') && !typedCode) {
  say('the URL carries no user_code: set CH_TEST_USER_CODE');
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

let context;
try {
  context = await launchChromium(profile, executablePath);
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(timeoutMs);
  say(`opening the verification URI (action ${action})`);
  await page.goto(url.href, { waitUntil: 'load' });

  const heading = (text) => page.locator('h1', { hasText: text });
  const submit = (text) => page.locator('button[type=submit]', { hasText: text });

  if (typedCode) {
    say('typing the user code');
    await page.locator('input[name=user_code]').fill(typedCode);
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      submit('Continue').click(),
    ]);
  }

  // The confirmation page shows the code and asks to continue or abort.
  await heading('Confirm Device').waitFor({ state: 'visible' });
  if (action === 'abort') {
    say('aborting on the confirmation page');
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      page.locator('button[name=abort]').click(),
    ]);
    await page.getByText('The Sign-in request was interrupted').waitFor({ state: 'visible' });
  } else {
    say('confirming the code');
    await Promise.all([
      page.waitForNavigation({ waitUntil: 'load' }),
      submit('Continue').first().click(),
    ]);
    let finished = false;
    for (let step = 0; step < 10 && !finished; step += 1) {
      const loginField = page.locator('input[name=login]');
      const continueButton = submit('Continue');
      const success = heading('Sign-in Success');
      await Promise.race([
        loginField.waitFor({ state: 'visible' }),
        continueButton.waitFor({ state: 'visible' }),
        success.waitFor({ state: 'visible' }),
      ]);
      if (await success.isVisible()) {
        finished = true;
      } else if (await loginField.isVisible()) {
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
          page.waitForNavigation({ waitUntil: 'load' }),
          page.locator('a', { hasText: 'Cancel' }).click(),
        ]);
        finished = true;
      } else {
        say('granting consent');
        await Promise.all([
          page.waitForNavigation({ waitUntil: 'load' }),
          continueButton.click(),
        ]);
      }
    }
    if (!finished) throw new Error('neither success nor a refusal after 10 steps');
    if (action === 'approve') say('reached the success page');
  }
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
