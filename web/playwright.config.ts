import { defineConfig } from '@playwright/test';

// Run by `scripts/test web`, which starts the gateway (WEB_DIR=web/dist),
// Mailpit and the mail sender and hands their addresses over (BASE_URL,
// MAILPIT_URL). Debian's chromium: Playwright's own download cannot work here.
//
// Each worker's browser is a person at an address of its own: the test
// gateway trusts X-Forwarded-For from loopback (TRUSTED_PROXIES), as a
// gateway behind nginx does, so the per-IP rate limits (30 bcrypt calls a
// minute: every sign-up, login and password check) count each worker apart,
// as they count people apart, instead of the whole suite as one client.
const clientIP = `10.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 250)}`;

export default defineConfig({
  testDir: 'tests',
  timeout: 60_000, // axe-core on several pages takes 20 s on a loaded two-core machine
  expect: { timeout: 10_000 },
  workers: 2,
  reporter: [['list']],
  use: {
    baseURL: process.env.BASE_URL,
    browserName: 'chromium',
    launchOptions: { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' },
    trace: 'off',
    extraHTTPHeaders: { 'X-Forwarded-For': clientIP },
  },
});
