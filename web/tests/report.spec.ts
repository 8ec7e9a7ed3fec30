import { expect, test, type Page } from '@playwright/test';
import { expectAccessible, fresh, logIn, signUp } from './helpers';

test.use({ timezoneId: 'UTC' });

async function post<T>(page: Page, path: string, data: unknown): Promise<T> {
  const res = await page.request.post(`/api/v1${path}`, { data, headers: { Origin: new URL(page.url()).origin } });
  expect(res.status(), `POST ${path}`).toBe(201);
  return (await res.json()) as T;
}

const def = (page: Page, term: string) => page.locator(`.report dt:text-is("${term}") + dd`);
const dateIn = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);

test("the monthly report shows the month's figures, another month's, and the reminders due", async ({ page }) => {
  test.slow(); // many steps, axe-core runs: three times the timeout on a busy machine
  const u = fresh('rp');
  await signUp(page, u);
  await logIn(page, u.username, u.password);
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();
  const { tracker: a } = await post<{ tracker: { id: number } }>(page, '/trackers', { name: 'Mood', type: 'note' });
  const { tracker: b } = await post<{ tracker: { id: number } }>(page, '/trackers', { name: 'Steps', type: 'numerical', unit: 'steps' });
  await post(page, `/trackers/${a.id}/logs`, { note: 'sunny', emotion: 'happy' });
  await post(page, `/trackers/${a.id}/logs`, { note: 'still sunny', emotion: 'happy', event_date: dateIn(3), event_reminder_msg: 'water the plants' });
  await post(page, `/trackers/${b.id}/logs`, { value: 8000, emotion: 'sad', event_date: dateIn(-2), event_reminder_msg: 'buy new shoes' });
  await post(page, `/trackers/${b.id}/logs`, { value: 9000, event_date: dateIn(30), event_reminder_msg: 'far away' });

  await page.getByRole('link', { name: 'Report' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Monthly report' })).toBeVisible();
  const month = new Date().toISOString().slice(0, 7);
  await expect(page.getByLabel('Month')).toHaveValue(month);
  await expect(page.getByRole('heading', { level: 2, name: `${month} (UTC)` })).toBeVisible();
  await expect(def(page, 'Trackers')).toHaveText('2');
  await expect(def(page, 'Logs dated this month')).toHaveText('4');
  await expect(def(page, 'Logs written this month')).toHaveText('4');
  // A tie (2 logs each) goes to the most recently updated tracker: Steps, logged last.
  await expect(def(page, 'Most used tracker')).toHaveText('Steps (2 logs)');
  await expect(def(page, 'Most frequent emotion')).toHaveText('happy');
  await expect(def(page, 'Logins')).toHaveText('1');

  // The reminders due within the week, the past-due one first and marked; not the one a month away.
  const reminders = page.locator('ul.items li');
  await expect(reminders).toHaveCount(2);
  await expect(reminders.nth(0)).toContainText('Past due');
  await expect(reminders.nth(0)).toContainText('buy new shoes');
  await expect(reminders.nth(1)).toContainText('water the plants');
  await expect(reminders.nth(1)).not.toContainText('Past due');
  await expect(page.getByText('far away')).toHaveCount(0);
  await expectAccessible(page);

  // Last month: nothing yet (the trackers did not exist).
  const d = new Date();
  const last = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
  await page.getByLabel('Month').fill(last);
  await page.getByRole('button', { name: 'Show report' }).click();
  await expect(page).toHaveURL(new RegExp(`/report\\?month=${last}$`));
  await expect(page.getByRole('heading', { level: 2, name: `${last} (UTC)` })).toBeVisible();
  await expect(def(page, 'Trackers')).toHaveText('0');
  await expect(def(page, 'Logs dated this month')).toHaveText('0');
  await expect(def(page, 'Most used tracker')).toHaveText('none');
  await expect(def(page, 'Most frequent emotion')).toHaveText('none');

  // A month not begun yet: the API's message under the field.
  const next = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString().slice(0, 7);
  await page.getByLabel('Month').fill(next);
  await page.getByRole('button', { name: 'Show report' }).click();
  await expect(page.getByLabel('Month')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#f-report-month-error')).toContainText('future');
  await expect(page.locator('.report dl')).toHaveCount(0);
  await expectAccessible(page);

  // Back and forward through the months.
  await page.goBack();
  await expect(page.getByRole('heading', { level: 2, name: `${last} (UTC)` })).toBeVisible();
  await page.goBack();
  await expect(page.getByRole('heading', { level: 2, name: `${month} (UTC)` })).toBeVisible();
  await page.goForward();
  await expect(page.getByLabel('Month')).toHaveValue(last);

  // The most used tracker links to its page.
  await page.goto(`/report?month=${month}`);
  await def(page, 'Most used tracker').getByRole('link', { name: 'Steps' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Steps' })).toBeVisible();
});

test('the report page needs a login and comes back after it', async ({ page }) => {
  const u = fresh('rl');
  await signUp(page, u);
  await page.goto('/report');
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  await page.getByLabel('Username or e-mail').fill(u.username);
  await page.getByLabel('Password').fill(u.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Monthly report' })).toBeVisible();
  await expect(page.getByText('No reminders due.')).toBeVisible();
  await expect(def(page, 'Logins')).toHaveText('1');
});
