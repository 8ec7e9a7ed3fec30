import { expect, test, type Page } from '@playwright/test';
import { expectAccessible, fresh, logIn, signUp } from './helpers';

// The browser's zone is Berlin: the chart's time zone starts there.
const zone = 'Europe/Berlin';
test.use({ timezoneId: zone });

async function newAccount(page: Page): Promise<void> {
  const u = fresh('tr');
  await signUp(page, u);
  await logIn(page, u.username, u.password);
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();
}

// A write through the API with the page's cookie (and its origin, as the browser sends it).
async function post<T>(page: Page, path: string, data: unknown): Promise<T> {
  const res = await page.request.post(`/api/v1${path}`, { data, headers: { Origin: new URL(page.url()).origin } });
  expect(res.status(), `POST ${path}`).toBe(201);
  return (await res.json()) as T;
}

async function createTracker(page: Page, name: string, type: 'numerical' | 'note', unit = ''): Promise<string> {
  await page.goto('/trackers');
  await expect(page.getByRole('heading', { level: 1, name: 'Trackers' })).toBeVisible();
  await page.getByLabel('Name').fill(name);
  await page.getByLabel('Type').selectOption(type);
  if (unit) await page.getByLabel('Unit (numbers only)').fill(unit);
  await page.getByRole('button', { name: 'Create tracker' }).click();
  await expect(page.getByRole('heading', { level: 1, name })).toBeVisible();
  await expect(page).toHaveURL(/\/trackers\/\d+/);
  return new URL(page.url()).pathname.split('/')[2];
}

// A date n days before today (UTC), YYYY-MM-DD; its logs at 10:00–14:00 UTC
// fall on the same local date in Berlin.
const daysAgo = (n: number) => new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
const localToday = () => new Intl.DateTimeFormat('en-CA', { timeZone: zone }).format(new Date());
function monday(date: string): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7));
  return d.toISOString().slice(0, 10);
}

// The table's cells of the row whose header is exactly name.
const row = (page: Page, name: string) => page.locator('table.series tr', { has: page.getByRole('rowheader', { name, exact: true }) }).locator('td');

test('a tracker chart drawn from logs, per day, week and month, with the same numbers in its table', async ({ page }) => {
  test.slow(); // many steps, axe-core runs: three times the timeout on a busy machine
  await newAccount(page);
  const id = await createTracker(page, 'Running', 'numerical', 'km');
  await expect(page.getByLabel('Time zone')).toHaveValue(zone); // the browser's
  await expect(page.getByRole('rowheader').first()).toBeVisible();

  // One log through the form (now), three through the API (earlier days).
  await page.getByLabel('Value (km)').fill('2.5');
  await page.getByLabel('Emotion').first().selectOption('happy');
  await page.getByLabel('Note').first().fill('an easy run');
  await page.getByRole('button', { name: 'Add log' }).click();
  await expect(page.getByRole('status')).toHaveText('Log added.');
  await expect(page.locator('li.log').first()).toContainText('2.5 km');
  await expect(page.locator('li.log').first()).toContainText('feeling happy');
  await expect(page.getByText('Numbers in km · 1 log')).toBeVisible();

  const d1 = daysAgo(2);
  const d2 = daysAgo(10);
  await post(page, `/trackers/${id}/logs`, { value: 3, logged_at: `${d1}T10:00:00Z` });
  await post(page, `/trackers/${id}/logs`, { value: 4, logged_at: `${d1}T14:00:00Z` });
  await post(page, `/trackers/${id}/logs`, { value: 5, logged_at: `${d2}T12:00:00Z` });
  await page.reload();

  const chart = page.getByRole('img', { name: /^Chart of Running: sum \(km\) per day/ });
  await expect(chart.locator('canvas').first()).toBeVisible();
  // Per day: logs, sum, average, minimum, maximum; an empty day has gaps.
  await expect(row(page, localToday())).toHaveText(['1', '2.5', '2.5', '2.5', '2.5']);
  await expect(row(page, d1)).toHaveText(['2', '7', '3.5', '3', '4']);
  await expect(row(page, d2)).toHaveText(['1', '5', '5', '5', '5']);
  await expect(row(page, daysAgo(5))).toHaveText(['0', '–', '–', '–', '–']);
  expect(await page.getByRole('rowheader').count()).toBeGreaterThanOrEqual(30);

  // Per week (Monday to Sunday) and per month: the same logs, summed by the bucket they fall in.
  const logs = [
    { date: localToday(), v: 2.5 },
    { date: d1, v: 3 },
    { date: d1, v: 4 },
    { date: d2, v: 5 },
  ];
  for (const [bucket, key, name] of [
    ['week', monday, (k: string) => `week of ${k}`],
    ['month', (d: string) => d.slice(0, 7), (k: string) => k],
  ] as const) {
    await page.getByLabel('Per', { exact: true }).selectOption(bucket);
    await expect(page.getByRole('img', { name: new RegExp(`per ${bucket}`) }).locator('canvas').first()).toBeVisible();
    await expect(page).toHaveURL(new RegExp(`bucket=${bucket}`));
    const sums = new Map<string, { n: number; sum: number }>();
    for (const l of logs) {
      const s = sums.get(key(l.date)) ?? { n: 0, sum: 0 };
      sums.set(key(l.date), { n: s.n + 1, sum: s.sum + l.v });
    }
    for (const [k, s] of sums) await expect(row(page, name(k)).first()).toHaveText(String(s.n));
    for (const [k, s] of sums) await expect(row(page, name(k)).nth(1)).toHaveText(String(s.sum));
    const rows = await page.getByRole('rowheader').count();
    expect(rows).toBeGreaterThanOrEqual(12);
    expect(rows).toBeLessThanOrEqual(13);
  }
  // The chart's settings are in the URL: a reload keeps them.
  await page.getByLabel('Show', { exact: true }).selectOption('max');
  await page.reload();
  await expect(page.getByLabel('Per', { exact: true })).toHaveValue('month');
  await expect(page.getByLabel('Show', { exact: true })).toHaveValue('max');
  await expect(page.getByRole('img', { name: /maximum \(km\) per month/ })).toBeVisible();
});

test('logs are edited and deleted, the tracker edited and deleted, each delete asked first', async ({ page }) => {
  test.slow(); // many steps, axe-core runs: three times the timeout on a busy machine
  await newAccount(page);
  const id = await createTracker(page, 'Journal', 'note');
  await expect(page.getByLabel('Show', { exact: true })).toHaveCount(0); // a note tracker counts its logs only
  await page.getByLabel('Note').first().fill('first thoughts');
  await page.getByLabel('Reminder date').first().fill('2030-01-02');
  await page.getByLabel('Reminder message').first().fill('call the bank');
  await page.getByRole('button', { name: 'Add log' }).click();
  const log = page.locator('li.log').first();
  await expect(log).toContainText('first thoughts');
  await expect(log).toContainText('Reminder on 2030-01-02: call the bank');
  await expect(row(page, localToday())).toHaveText(['1']);

  // Edit: the form holds the log's values; clearing the reminder clears it.
  await log.getByRole('button', { name: 'Edit' }).click();
  await expect(log.getByLabel('Note')).toHaveValue('first thoughts');
  await log.getByLabel('Note').fill('second thoughts');
  await log.getByLabel('Emotion').selectOption('calm');
  await log.getByLabel('Reminder date').fill('');
  await log.getByLabel('Reminder message').fill('');
  await log.getByRole('button', { name: 'Save log' }).click();
  await expect(log).toContainText('second thoughts');
  await expect(log).toContainText('feeling calm');
  await expect(log).not.toContainText('Reminder on');

  // An error of the edit shows in its form: a reminder message needs a date.
  await log.getByRole('button', { name: 'Edit' }).click();
  await log.getByLabel('Reminder message').fill('no date');
  await log.getByRole('button', { name: 'Save log' }).click();
  await expect(log.getByRole('alert').first()).not.toBeEmpty();
  await log.getByRole('button', { name: 'Cancel' }).click();

  // Delete asks first; Cancel keeps the log.
  await log.getByRole('button', { name: 'Delete' }).click();
  await expect(log.getByRole('group', { name: 'Delete this log?' })).toBeVisible();
  await log.getByRole('button', { name: 'Cancel' }).click();
  await expect(log).toContainText('second thoughts');
  await log.getByRole('button', { name: 'Delete' }).click();
  await log.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(page.getByRole('status')).toHaveText('Log deleted.');
  await expect(page.getByText('No logs yet.')).toBeVisible();
  await expect(row(page, localToday())).toHaveText(['0']);

  // The tracker: renamed, a taken name refused under its field, deleted.
  await page.getByLabel('Name').fill('Diary');
  await page.getByRole('button', { name: 'Save tracker' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Diary' })).toBeVisible();
  await createTracker(page, 'Other', 'note');
  await page.goto(`/trackers/${id}`);
  await page.getByLabel('Name').fill('other');
  await page.getByRole('button', { name: 'Save tracker' }).click();
  await expect(page.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true');
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Delete tracker' }).click();
  await page.getByRole('button', { name: 'Yes, delete tracker' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Trackers' })).toBeVisible();
  await expect(page.getByRole('link', { name: 'Diary' })).toHaveCount(0);
  await expect(page.getByRole('link', { name: 'Other' })).toBeVisible();
  await page.goto(`/trackers/${id}`);
  await expect(page.getByRole('heading', { level: 1, name: 'Not found' })).toBeVisible();
});

test('tracker pages pass axe-core, also with a form error shown', async ({ page }) => {
  test.slow(); // many steps, axe-core runs: three times the timeout on a busy machine
  await newAccount(page);
  await page.goto('/trackers');
  await expect(page.getByRole('heading', { level: 1, name: 'Trackers' })).toBeVisible();
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Create tracker' }).click(); // no name
  await expect(page.getByLabel('Name')).toHaveAttribute('aria-invalid', 'true');
  await expectAccessible(page);
  await createTracker(page, 'Sleep', 'numerical', 'h');
  await expect(page.getByRole('img', { name: /^Chart of Sleep/ }).locator('canvas').first()).toBeVisible();
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Add log' }).click(); // no value
  await expect(page.getByLabel('Value (h)')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#f-log-new-value-error')).not.toBeEmpty();
  await expectAccessible(page);
  // A time zone the API does not know (from a link): its reason shown, no chart.
  await page.goto(`${new URL(page.url()).pathname}?bucket=week&tz=Mars/Olympus_Mons`);
  await expect(page.getByLabel('Time zone')).toHaveValue('Mars/Olympus_Mons');
  await expect(page.getByRole('alert').filter({ hasText: 'the time zone must be an IANA time zone' })).toBeVisible();
  await expect(page.locator('table.series')).toHaveCount(0);
  await page.getByLabel('Time zone').selectOption('UTC');
  await expect(page.getByRole('img', { name: /per week.*in UTC/ }).locator('canvas').first()).toBeVisible();
  await expect(page.getByRole('alert').filter({ hasText: 'time zone' })).toHaveCount(0);
  await page.goto('/trackers');
  await expectAccessible(page);
});

test('a tracker on a phone (375 px): no horizontal scroll, the chart fits; nor on the other tracking pages', async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  await newAccount(page);
  const id = await createTracker(page, 'A tracker with a rather long name on a phone', 'numerical', 'steps');
  await post(page, `/trackers/${id}/logs`, { value: 12345, note: 'a_long_note_without_any_space_'.repeat(8), event_date: '2030-01-01', event_reminder_msg: 'stretch' });
  await page.reload();
  await expect(page.locator('.chart canvas').first()).toBeVisible();
  await expect(page.locator('li.log')).toHaveCount(1);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  const box = await page.locator('.chart canvas').first().boundingBox();
  expect(box!.x + box!.width).toBeLessThanOrEqual(375);
  for (const path of ['/trackers', '/goals', '/report']) {
    await page.goto(path);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
    expect(await page.evaluate(() => document.documentElement.scrollWidth), path).toBeLessThanOrEqual(375);
  }
  // A chart drawn wide follows the window when it narrows.
  await page.setViewportSize({ width: 1000, height: 740 });
  await page.goto(`/trackers/${id}`);
  await expect.poll(async () => (await page.locator('.chart canvas').first().boundingBox())?.width ?? 0).toBeGreaterThan(500);
  await page.setViewportSize({ width: 375, height: 740 });
  await expect.poll(async () => (await page.locator('.chart canvas').first().boundingBox())?.width ?? 999).toBeLessThanOrEqual(343);
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
});

test('trackers: reachable by URL, back and forward work; the login comes first', async ({ page }) => {
  await page.goto('/trackers');
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  await newAccount(page);
  const id = await createTracker(page, 'Water', 'numerical', 'l');
  // 21 logs: a page of 20, then the older one.
  for (let i = 1; i <= 21; i++) await post(page, `/trackers/${id}/logs`, { value: i, logged_at: new Date(Date.now() - i * 60_000).toISOString() });
  await page.reload();
  await expect(page.locator('li.log')).toHaveCount(20);
  await expect(page.locator('li.log').first()).toContainText('1 l');
  await page.getByRole('button', { name: 'Older logs' }).click();
  await expect(page.locator('li.log')).toHaveCount(21);
  await expect(page.locator('li.log').last()).toContainText('21 l');
  await expect(page.getByRole('button', { name: 'Older logs' })).toBeHidden();
  await page.getByRole('link', { name: 'All trackers' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Trackers' })).toBeVisible();
  await page.getByRole('link', { name: 'Water' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Water' })).toBeVisible();
  await page.goBack();
  await expect(page.getByRole('heading', { level: 1, name: 'Trackers' })).toBeVisible();
  await page.goForward();
  await expect(page.getByRole('heading', { level: 1, name: 'Water' })).toBeVisible();
  await expect(page.getByRole('img', { name: /^Chart of Water/ }).locator('canvas').first()).toBeVisible();
});

test('a 401 from a call (the session ended elsewhere) leads to the login page, and back after it', async ({ page }) => {
  const u = fresh('tu');
  await signUp(page, u);
  await logIn(page, u.username, u.password);
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();
  await createTracker(page, 'Tea', 'numerical', 'cups');
  const here = new URL(page.url()).pathname;
  // The session ends (a logout with the same cookie, as from another tab); the page does not know yet.
  const out = await page.request.delete('/api/v1/session', { headers: { Origin: new URL(page.url()).origin } });
  expect(out.status()).toBe(204);
  await page.getByLabel('Value (cups)').fill('2');
  await page.getByRole('button', { name: 'Add log' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`/login\\?next=${encodeURIComponent(here)}`));
  await page.getByLabel('Username or e-mail').fill(u.username);
  await page.getByLabel('Password').fill(u.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Tea' })).toBeVisible();
  expect(new URL(page.url()).pathname).toBe(here);
  await expect(page.getByText('No logs yet.')).toBeVisible(); // the refused log was not written
});

test("the tracking pages and the chart run under the production CSP (default-src 'self')", async ({ page }) => {
  test.slow();
  // The documents get the header nginx sends (scripts/run --stack); a violation is logged.
  await page.route(
    (url) => !url.pathname.startsWith('/api/'),
    async (route) => {
      if (!route.request().isNavigationRequest()) return route.continue();
      const response = await route.fetch();
      await route.fulfill({ response, headers: { ...response.headers(), 'content-security-policy': "default-src 'self'; frame-ancestors 'none'" } });
    },
  );
  const violations: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy|CSP violation/i.test(m.text())) violations.push(m.text());
  });
  await page.addInitScript(() =>
    document.addEventListener('securitypolicyviolation', (e) => console.log(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`)),
  );
  await newAccount(page);
  const id = await createTracker(page, 'Strict', 'numerical', 'g');
  await post(page, `/trackers/${id}/logs`, { value: 7 });
  await page.reload();
  const canvas = page.getByRole('img', { name: /^Chart of Strict/ }).locator('canvas').first();
  await expect(canvas).toBeVisible();
  await expect(row(page, localToday())).toHaveText(['1', '7', '7', '7', '7']);
  // uPlot's style sheet is loaded (a <link>, not a <style>): its overlay is positioned by it.
  await expect(page.locator('.u-over')).toHaveCSS('position', 'absolute');
  await page.getByLabel('Per', { exact: true }).selectOption('month');
  await expect(page.getByRole('img', { name: /per month/ }).locator('canvas').first()).toBeVisible();
  for (const path of ['/trackers', '/goals', '/report']) {
    await page.goto(path);
    await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
  }
  expect(violations).toEqual([]);
});
