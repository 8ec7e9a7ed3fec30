import { expect, test } from '@playwright/test';
import { expectAccessible, fresh, logIn, mailedLink, signUp } from './helpers';

test('sign up, the confirmation mail, the confirm page confirms on its button only', async ({ page }) => {
  const u = fresh('su');
  await signUp(page, u);
  await logIn(page, u.username, u.password);
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
  await expect(page.getByText('is not confirmed yet')).toBeVisible();

  const link = await mailedLink(u.email, '/confirm-email');
  await page.goto(link);
  await expect(page.getByRole('heading', { level: 1, name: 'Confirm your e-mail address' })).toBeVisible();
  // Opening the link did nothing: mail scanners open links.
  await page.goto('/');
  await expect(page.getByText('is not confirmed yet')).toBeVisible();

  await page.goto(link);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Address confirmed' })).toBeVisible();
  await page.goto('/');
  await expect(page.getByText(`Welcome, ${u.username}.`)).toBeVisible();
  await expect(page.getByText('is not confirmed yet')).toHaveCount(0);

  // A spent link: the API's message, shown on the page.
  await page.goto(link);
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByRole('alert')).not.toBeEmpty();
  await expect(page.getByRole('heading', { level: 1, name: 'Confirm your e-mail address' })).toBeVisible();
});

test('log in and log out; the session lives in the cookie alone; a cross-origin write is refused', async ({ page, context }) => {
  const u = fresh('li');
  await signUp(page, u);

  await logIn(page, u.email, 'not the password');
  await expect(page.getByRole('alert')).toContainText(/wrong password|unknown login/);
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();

  await logIn(page, u.email, u.password);
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();
  const cookies = await context.cookies();
  expect(cookies.filter((c) => !c.httpOnly), 'every cookie is HttpOnly').toEqual([]);
  expect(await page.evaluate(() => [document.cookie, localStorage.length, sessionStorage.length])).toEqual(['', 0, 0]);

  // The same cookie on a write from another origin: refused (the gateway's CSRF rule).
  const forged = await page.request.delete('/api/v1/session', { headers: { Origin: 'http://evil.example' } });
  expect(forged.status()).toBe(403);
  expect((await forged.json()).code).toBe('CSRF');

  await page.reload();
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();
  await page.getByRole('button', { name: 'Log out' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  await page.goto('/');
  await expect(page.getByRole('link', { name: 'Log in' }).first()).toBeVisible();
  await expect(page.getByRole('button', { name: 'Log out' })).toHaveCount(0);
});

test('sign-up errors are shown by their field', async ({ page }) => {
  const u = fresh('se');
  await signUp(page, u);
  await page.goto('/signup');
  await page.getByLabel('Username').fill(u.username);
  await page.getByLabel('E-mail').fill(fresh('se2').email);
  await page.getByLabel('Password').fill(u.password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByLabel('Username')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#f-username-error')).not.toBeEmpty();
  await expectAccessible(page);
});

test('forgot password: the mail, the reset page, the new password works, the old sessions are gone', async ({ page, browser }) => {
  const u = fresh('fp');
  await signUp(page, u);
  await logIn(page, u.username, u.password);
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();

  const other = await browser.newPage();
  await other.goto('/login');
  await other.getByRole('link', { name: 'Forgot password?' }).click();
  await expect(other.getByRole('heading', { level: 1, name: 'Forgot password' })).toBeVisible();
  await other.getByLabel('E-mail').fill(u.email);
  await other.getByRole('button', { name: 'Send reset link' }).click();
  await expect(other.getByRole('heading', { level: 1, name: 'Check your mail' })).toBeVisible();

  const link = await mailedLink(u.email, '/reset-password');
  await other.goto(link);
  await expect(other.getByRole('heading', { level: 1, name: 'Set a new password' })).toBeVisible();
  const newPassword = 'a brand new passphrase';
  await other.getByLabel('New password').fill(newPassword);
  await other.getByRole('button', { name: 'Set password' }).click();
  await expect(other.getByRole('heading', { level: 1, name: 'Password changed' })).toBeVisible();

  // The first browser's session is gone.
  await page.reload();
  await expect(page.getByRole('button', { name: 'Log out' })).toHaveCount(0);

  await logIn(other, u.username, u.password);
  await expect(other.getByRole('alert')).not.toBeEmpty();
  await logIn(other, u.username, newPassword);
  await expect(other.getByText(`Signed in as ${u.username}`)).toBeVisible();
  await other.close();
});

test('log in and log out with the keyboard alone', async ({ page }) => {
  const u = fresh('kb');
  await signUp(page, u);
  await page.goto('/login');
  // The page's heading holds the focus; the form follows it.
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Username or e-mail')).toBeFocused();
  await page.keyboard.type(u.username);
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Password')).toBeFocused();
  await page.keyboard.type(u.password);
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeFocused();
  // The navigation comes before the page: Log out is just before the heading.
  await page.keyboard.press('Shift+Tab');
  await expect(page.getByRole('button', { name: 'Log out' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
});

test('every page passes axe-core (no serious or critical violation)', async ({ page }) => {
  test.slow(); // nine axe-core runs: three times the timeout on a busy machine
  const u = fresh('ax');
  const paths = ['/', '/signup', '/login', '/forgot-password', '/confirm-email?token=x', '/reset-password?token=x', '/no-such-page'];
  for (const p of paths) {
    await page.goto(p);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    await expectAccessible(page);
  }
  await signUp(page, u);
  await expectAccessible(page);
  await logIn(page, u.username, u.password);
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
  await expectAccessible(page);
  await logIn(page, u.username, 'wrong');
  await expect(page.getByRole('alert')).not.toBeEmpty();
  await expectAccessible(page);
});

test('each page is reachable by URL and back and forward work', async ({ page }) => {
  await page.goto('/login');
  await page.getByRole('link', { name: 'Forgot password?' }).click();
  await expect(page).toHaveURL(/\/forgot-password$/);
  await page.goBack();
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  await page.goForward();
  await expect(page.getByRole('heading', { level: 1, name: 'Forgot password' })).toBeVisible();
});
