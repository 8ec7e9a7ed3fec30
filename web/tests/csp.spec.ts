import { expect, test } from '@playwright/test';
import { fresh } from './helpers';

// The web client through nginx (scripts/run --stack), under the
// Content-Security-Policy deploy/nginx/homebase.conf sends: the pages run,
// and the browser reports no violation and no error. Run by
// tests/scripts/stack_web.sh (STACK_CSP=1, BASE_URL the stack's https URL);
// skipped by scripts/test web, whose gateway sends no CSP.
test.skip(!process.env.STACK_CSP, 'run by tests/scripts/stack_web.sh against the nginx stack');
test.use({ ignoreHTTPSErrors: true }); // the stack's throw-away CA

test('under the CSP: sign up, log in, settings, admin; no violation, no console error', async ({ page }) => {
  const problems: string[] = [];
  // The browser logs each failed load as a console error: the API's 401 and
  // 403 are answers the pages expect; anything else outside /api/ is not.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) problems.push(`console: ${m.text()}`);
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !new URL(r.url()).pathname.startsWith('/api/')) problems.push(`${r.status()} ${r.url()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.addInitScript(() => {
    document.addEventListener('securitypolicyviolation', (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
  });
  const csp = (await page.goto('/login'))!.headers()['content-security-policy'];
  expect(csp).toContain("script-src 'self'");
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  // The style sheet applied (a blocked one would leave the nav a plain list).
  expect(await page.locator('nav ul').evaluate((el) => getComputedStyle(el).display)).toBe('flex');

  const u = fresh('csp');
  await page.getByRole('link', { name: 'Sign up' }).first().click();
  await page.getByLabel('Username').fill(u.username);
  await page.getByLabel('E-mail').fill(u.email);
  await page.getByLabel('Password').fill(u.password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Check your mail' })).toBeVisible();
  await page.goto('/settings'); // the login page first, then back here
  await page.getByLabel('Username or e-mail').fill(u.username);
  await page.getByLabel('Password').fill(u.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Settings' })).toBeVisible();
  await page.getByRole('region', { name: 'Display name' }).getByLabel('Display name').fill('Under CSP');
  await page.getByRole('button', { name: 'Save name' }).click();
  await expect(page.getByText('Your display name is now Under CSP.')).toBeVisible();
  // An API error shown on the page.
  await page.goto('/admin');
  await expect(page.getByRole('alert')).not.toBeEmpty();
  expect(problems).toEqual([]);
});
