import { defineConfig } from '@playwright/test';

// Run by `scripts/test web`, which starts the gateway (WEB_DIR=web/dist),
// Mailpit and the mail sender and hands their addresses over (BASE_URL,
// MAILPIT_URL). Debian's chromium: Playwright's own download cannot work here.
export default defineConfig({
  testDir: 'tests',
  timeout: 30_000,
  expect: { timeout: 10_000 },
  workers: 2,
  reporter: [['list']],
  use: {
    baseURL: process.env.BASE_URL,
    browserName: 'chromium',
    launchOptions: { executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium' },
    trace: 'off',
  },
});
