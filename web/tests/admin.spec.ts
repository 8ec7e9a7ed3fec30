import { expect, test } from '@playwright/test';
import { expectAccessible, fresh, logIn, setRole, signUp } from './helpers';

test('admin: others see the API 403 message; an admin reads the audit log, filters it and pages back', async ({ page, browser }) => {
  test.setTimeout(120_000); // three axe-core runs and many pages, on a machine that may be loaded
  const base = test.info().project.use.baseURL!;
  const origin = new URL(base).origin;

  // Not an admin: the page shows the API's own message, no Admin link.
  const user = fresh('nu');
  await signUp(page, user);
  await logIn(page, user.username, 'not the password'); // a WARN row of source auth
  await expect(page.getByRole('alert')).not.toBeEmpty();
  await logIn(page, user.username, user.password);
  await expect(page.getByText(`Signed in as ${user.username}`)).toBeVisible();
  await expect(page.getByRole('link', { name: 'Admin' })).toHaveCount(0);
  const refused = await page.request.get('/api/v1/admin/logs');
  expect(refused.status()).toBe(403);
  const message = (await refused.json()).message as string;
  expect(message).not.toBe('');
  await page.goto('/admin');
  await expect(page.getByRole('heading', { level: 1, name: 'Admin' })).toBeVisible();
  await expect(page.getByRole('alert')).toHaveText(message);
  await expect(page.getByRole('table')).toHaveCount(0);
  await expectAccessible(page);

  // An admin, in a browser of its own.
  const ctx = await browser.newContext({ baseURL: base });
  const admin = await ctx.newPage();
  const a = fresh('ad');
  await signUp(admin, a);
  setRole(a.username, 'admin');
  await logIn(admin, a.username, a.password);
  await expect(admin.getByText(`Signed in as ${a.username}`)).toBeVisible();
  // More rows of source auth than a page holds: display name changes (no
  // password, no rate limit), each logged as "account updated".
  for (let i = 0; i < 21; i++) {
    const r = await admin.request.patch('/api/v1/account', { data: { display_name: `Admin ${i}` }, headers: { Origin: origin } });
    expect(r.status()).toBe(200);
  }

  await admin.getByRole('link', { name: 'Admin' }).click();
  await expect(admin.getByRole('heading', { level: 1, name: 'Admin' })).toBeFocused();
  const rows = admin.getByRole('table').locator('tbody tr');
  await expect(rows).toHaveCount(20);
  await expect(rows.filter({ hasText: 'account updated' }).filter({ hasText: a.username }).first()).toBeVisible();
  await expectAccessible(admin);

  // Filters: WARN and above, source auth; in the URL, so the page has its address.
  await admin.getByLabel('Level').selectOption('WARN');
  await admin.getByLabel('Source').fill('auth');
  await admin.getByRole('button', { name: 'Filter' }).click();
  await expect(admin).toHaveURL(/\/admin\?level=WARN&source=auth$/);
  await expect(admin.locator('caption')).toHaveText('Audit log, WARN and above, source auth, newest first');
  await expect(rows.filter({ hasText: 'login failed' }).filter({ hasText: user.username }).first()).toBeVisible();
  const levels = await rows.locator('td:nth-child(2)').allTextContents();
  expect(levels.length).toBeGreaterThan(0);
  expect(levels.filter((l) => l !== 'WARN' && l !== 'ERROR')).toEqual([]);
  expect(new Set(await rows.locator('td:nth-child(3)').allTextContents())).toEqual(new Set(['auth']));
  await expect(admin.getByLabel('Level')).toHaveValue('WARN');
  await expect(admin.getByLabel('Source')).toHaveValue('auth');

  // Paging: source auth alone, the newest page, then "Older": the rows
  // after the first page's last one, as the API answers them; back and
  // forward.
  await admin.goto('/admin?source=auth');
  await expect(admin.locator('caption')).toHaveText('Audit log, source auth, newest first');
  await expect(rows).toHaveCount(20);
  const lastId = await rows.last().getAttribute('data-id');
  await admin.getByRole('link', { name: 'Older' }).click();
  await expect(admin).toHaveURL(new RegExp(`/admin\\?source=auth&before=${lastId}$`));
  await expect(admin.locator('caption')).toHaveText(`Audit log, source auth, older than entry ${lastId}`);
  const api = (await (await admin.request.get(`/api/v1/admin/logs?source=auth&before=${lastId}`)).json()) as { logs: { id: number; message: string }[] };
  expect(api.logs.length).toBeGreaterThan(0);
  await expect(rows).toHaveCount(api.logs.length);
  expect(await rows.evaluateAll((trs) => trs.map((tr) => Number(tr.getAttribute('data-id'))))).toEqual(api.logs.map((l) => l.id));
  expect(await rows.locator('td:nth-child(4)').allTextContents()).toEqual(api.logs.map((l) => l.message));
  expect(api.logs.every((l) => l.id < Number(lastId))).toBe(true);
  await admin.goBack();
  await expect(admin).toHaveURL(/\/admin\?source=auth$/);
  await expect(admin.locator('caption')).toHaveText('Audit log, source auth, newest first');
  await expect(rows).toHaveCount(20);
  await admin.goForward();
  await expect(admin).toHaveURL(/before=\d+$/);
  await expect(admin.locator('caption')).toContainText('older than entry');
  await admin.getByRole('link', { name: 'Newest' }).click();
  await expect(admin).toHaveURL(/\/admin\?source=auth$/);
  await expect(admin.locator('caption')).toHaveText('Audit log, source auth, newest first');

  // A filter the API refuses: its message, and the field's under the field.
  await admin.goto('/admin?level=LOUD');
  await expect(admin.getByRole('heading', { level: 1, name: 'Admin' })).toBeVisible();
  await expect(admin.getByRole('alert')).not.toBeEmpty();
  await expect(admin.getByLabel('Level')).toHaveAttribute('aria-invalid', 'true');
  await expectAccessible(admin);
  await ctx.close();
});
