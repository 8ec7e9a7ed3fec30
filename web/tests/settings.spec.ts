import { expect, test, type Locator, type Page } from '@playwright/test';
import { expectAccessible, fresh, logIn, mailedLink, signUp } from './helpers';

const part = (page: Page, name: string) => page.getByRole('region', { name });

// Presses Tab until the element has the focus (the keyboard alone).
async function tabTo(page: Page, target: Locator): Promise<void> {
  for (let i = 0; i < 80; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  throw new Error('Tab never reached the element');
}

test('settings: display name, preferences, password, address change, then the account deleted with the keyboard alone', async ({ page }) => {
  test.setTimeout(90_000); // a whole account's life, mail included
  const u = fresh('st');
  await signUp(page, u);
  await logIn(page, u.username, u.password);
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();
  await page.getByRole('link', { name: 'Settings' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Settings' })).toBeFocused();
  await expectAccessible(page);

  // Display name.
  const profile = part(page, 'Display name');
  await expect(profile.getByLabel('Display name')).toHaveValue(u.username);
  await profile.getByLabel('Display name').fill('Ada L.');
  await profile.getByRole('button', { name: 'Save name' }).click();
  await expect(profile.getByRole('status')).toHaveText('Your display name is now Ada L..');
  await page.goto('/');
  await expect(page.getByText('Welcome, Ada L.')).toBeVisible();

  // Preferences: the defaults, then saved and read back.
  await page.goto('/settings');
  const prefs = part(page, 'Preferences');
  await expect(prefs.getByLabel('Reminder digest')).toHaveValue('weekly');
  await expect(prefs.getByLabel('Monthly report')).toHaveValue('html');
  await expect(prefs.getByLabel('Time zone')).toHaveValue('UTC');
  await prefs.getByLabel('Reminder digest').selectOption('daily');
  await prefs.getByLabel('Monthly report').selectOption('PDF');
  await prefs.getByLabel('Time zone').selectOption('Europe/Berlin');
  await prefs.getByRole('button', { name: 'Save preferences' }).click();
  await expect(prefs.getByRole('status')).toHaveText('Your preferences are saved.');
  await page.reload();
  await expect(prefs.getByLabel('Reminder digest')).toHaveValue('daily');
  await expect(prefs.getByLabel('Monthly report')).toHaveValue('pdf');
  await expect(prefs.getByLabel('Time zone')).toHaveValue('Europe/Berlin');

  // Password: a wrong current password is the form's error (the session stays),
  // then the change.
  const pw = part(page, 'Password');
  const newPassword = 'another good passphrase';
  await pw.getByLabel('Current password').fill('not my password');
  await pw.getByLabel('New password').fill(newPassword);
  await pw.getByRole('button', { name: 'Change password' }).click();
  await expect(pw.getByRole('alert')).toHaveText('the current password is wrong');
  await expect(page).toHaveURL(/\/settings$/);
  await pw.getByLabel('Current password').fill(u.password);
  await pw.getByLabel('New password').fill(newPassword);
  await pw.getByRole('button', { name: 'Change password' }).click();
  await expect(pw.getByRole('status')).toHaveText('Your password is changed; your other sessions are logged out.');
  await expect(pw.locator('form .error')).toBeEmpty();

  // Address: the password asked (a wrong one refused), the pending address
  // shown until its mailed link is followed.
  const addr = part(page, 'E-mail address');
  const newEmail = fresh('st2').email;
  await expect(addr.getByText(`Your address: ${u.email}`)).toBeVisible();
  await addr.getByLabel('New e-mail').fill(newEmail);
  await addr.getByLabel('Password').fill(u.password); // the old one
  await addr.getByRole('button', { name: 'Change address' }).click();
  await expect(addr.locator('form').getByRole('alert')).toHaveText('the password is wrong');
  await addr.getByLabel('New e-mail').fill(newEmail);
  await addr.getByLabel('Password').fill(newPassword);
  await addr.getByRole('button', { name: 'Change address' }).click();
  await expect(addr.getByText(`Waiting for confirmation: ${newEmail}.`)).toBeVisible();
  await page.reload();
  await expect(addr.getByText(`Waiting for confirmation: ${newEmail}.`)).toBeVisible();
  await expect(addr.getByText(`Your address: ${u.email}`)).toBeVisible();
  await expectAccessible(page);
  await page.goto(await mailedLink(newEmail, '/confirm-email'));
  await page.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Address confirmed' })).toBeVisible();
  await page.goto('/settings');
  await expect(addr.getByText(`Your address: ${newEmail}`)).toBeVisible();
  await expect(addr.getByText('Waiting for confirmation')).toHaveCount(0);

  // Delete the account with the keyboard alone: the password, then the
  // confirmation ("Cancel" first, which deletes nothing).
  const del = part(page, 'Delete account');
  await tabTo(page, del.getByLabel('Password'));
  await page.keyboard.type(newPassword);
  await page.keyboard.press('Enter');
  await expect(del.getByRole('button', { name: 'Yes, delete my account' })).toBeFocused();
  await expectAccessible(page);
  await page.keyboard.press('Tab');
  await expect(del.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(del.getByRole('button', { name: 'Yes, delete my account' })).toHaveCount(0);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Settings' })).toBeVisible();
  await tabTo(page, del.getByLabel('Password'));
  await page.keyboard.type(newPassword);
  await page.keyboard.press('Enter');
  await expect(del.getByRole('button', { name: 'Yes, delete my account' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Account deleted' })).toBeVisible();
  await expect(page.getByRole('button', { name: 'Log out' })).toHaveCount(0);
  await logIn(page, u.username, newPassword);
  await expect(page.getByRole('alert')).not.toBeEmpty();
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
});

test('sessions: the current one marked, one revoked elsewhere; a 401 leads to the login page and back', async ({ page, browser }) => {
  test.setTimeout(60_000);
  const u = fresh('ss');
  await signUp(page, u);
  await logIn(page, u.username, u.password);
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();
  // A second browser (another User-Agent: a login replaces the session of the
  // same browser and address).
  const ctx = await browser.newContext({ baseURL: test.info().project.use.baseURL, userAgent: 'Other Browser/1.0' });
  const other = await ctx.newPage();
  await logIn(other, u.username, u.password);
  await expect(other.getByText(`Signed in as ${u.username}`)).toBeVisible();
  await other.goto('/settings');
  await expect(other.getByRole('heading', { level: 1, name: 'Settings' })).toBeVisible();

  await page.goto('/settings');
  const list = part(page, 'Sessions').getByRole('listitem');
  await expect(list).toHaveCount(2);
  const mine = list.filter({ hasText: '(this session)' });
  await expect(mine).toHaveCount(1);
  await expect(mine.getByRole('button')).toHaveCount(0);
  const theirs = list.filter({ hasText: 'Other Browser/1.0' });
  await expect(theirs).toHaveCount(1);
  await theirs.getByRole('button', { name: 'Revoke' }).click();
  await expect(part(page, 'Sessions').getByRole('status')).toHaveText('The session is revoked.');
  await expect(list).toHaveCount(1);
  await expect(part(page, 'Sessions').getByRole('button', { name: 'Revoke all other sessions' })).toBeHidden();

  // The other browser's page still shows; its next call is a 401: the login
  // page, and after logging in, the settings again.
  await part(other, 'Preferences').getByRole('button', { name: 'Save preferences' }).click();
  await expect(other.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  await expect(other).toHaveURL(/\/login\?next=%2Fsettings$/);
  await other.getByLabel('Username or e-mail').fill(u.username);
  await other.getByLabel('Password').fill(u.password);
  await other.getByRole('button', { name: 'Log in' }).click();
  await expect(other.getByRole('heading', { level: 1, name: 'Settings' })).toBeVisible();
  await expect(other).toHaveURL(/\/settings$/);

  // Revoke all others, from the other browser this time.
  await page.reload();
  await expect(list).toHaveCount(2);
  await part(other, 'Sessions').getByRole('button', { name: 'Revoke all other sessions' }).click();
  await expect(part(other, 'Sessions').getByRole('status')).toHaveText('Every other session is revoked.');
  await expect(part(other, 'Sessions').getByRole('listitem')).toHaveCount(1);
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  await ctx.close();
});

test('a 429 shows the Retry-After wait', async ({ browser }) => {
  // A client of its own address (as web/playwright.config.ts gives each
  // worker), so that its failed logins lock no one else out.
  const ip = `10.255.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 250)}`;
  const ctx = await browser.newContext({ baseURL: test.info().project.use.baseURL, extraHTTPHeaders: { 'X-Forwarded-For': ip } });
  const page = await ctx.newPage();
  const nobody = fresh('nb').username; // an unknown login is counted as a known one
  await page.goto('/login');
  let last;
  for (let i = 0; i < 6; i++) {
    await page.getByLabel('Username or e-mail').fill(nobody);
    await page.getByLabel('Password').fill('wrong password');
    const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/sessions'));
    await page.getByRole('button', { name: 'Log in' }).click();
    last = await answer;
    if (last.status() === 429) break;
    await expect(page.getByRole('alert')).not.toBeEmpty();
  }
  expect(last!.status()).toBe(429);
  const wait = last!.headers()['retry-after'];
  expect(Number(wait)).toBeGreaterThan(0);
  await expect(page.getByRole('alert')).toContainText(`Try again in ${wait} s.`);
  await ctx.close();
});
