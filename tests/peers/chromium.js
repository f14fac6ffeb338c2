// Launching Debian's Chromium for the test peers (browser.js, device-browser.js): headless, a
// fresh profile, and every flag PEERS.md requires, above all --host-resolver-rules, so that
// every host name but localhost and 127.0.0.1 resolves to nothing and no lookup leaves the
// machine.

import path from 'node:path';
import process from 'node:process';
import { chromium } from 'playwright-core';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
  '--no-proxy-server',
  '--password-store=basic',
  '--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1',
];

// A persistent context in `profile` (a fresh temporary directory), with XDG config and cache
// kept inside it too.
export const launchChromium = (profile, executablePath) =>
  chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    env: {
      ...process.env,
      XDG_CONFIG_HOME: path.join(profile, 'config'),
      XDG_CACHE_HOME: path.join(profile, 'cache'),
    },
    args: CHROMIUM_ARGS,
  });
