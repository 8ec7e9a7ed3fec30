import { expect, test, type Page } from '@playwright/test';
import { expectAccessible, fresh, logIn, signUp } from './helpers';

async function newAccount(page: Page): Promise<void> {
  const u = fresh('go');
  await signUp(page, u);
  await logIn(page, u.username, u.password);
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();
}

async function addEntry(page: Page, amount: string, note = ''): Promise<void> {
  await page.getByLabel(/^Amount/).first().fill(amount);
  if (note) await page.getByLabel('Note').first().fill(note);
  await page.getByRole('button', { name: 'Add entry' }).click();
  await expect(page.getByRole('status')).toHaveText('Entry added.');
}

test("a goal's bar at the right percent: target 10, entries adding to 4 → 40 %", async ({ page }) => {
  test.slow(); // many steps, axe-core runs: three times the timeout on a busy machine
  await newAccount(page);
  await page.goto('/goals');
  await expect(page.getByText('No goals yet')).toBeVisible();
  await page.getByLabel('Title').fill('Read books');
  await page.getByLabel('Target (optional)').fill('10');
  await page.getByLabel('Unit').fill('books');
  await page.getByLabel('Due date').fill('2030-12-31');
  await page.getByRole('button', { name: 'Create goal' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Read books' })).toBeVisible();
  const bar = page.getByRole('progressbar', { name: 'Progress of Read books' });
  await expect(bar).toHaveAttribute('value', '0');
  await expect(page.getByText('0 % · 0 books of 10 books')).toBeVisible();

  await addEntry(page, '1.5', 'a novel and a half');
  await addEntry(page, '2.5');
  await expect(bar).toHaveAttribute('value', '40');
  await expect(page.getByText('40 % · 4 books of 10 books')).toBeVisible();
  await expect(page.locator('ul.items li')).toHaveCount(2);

  // The list shows the same bar.
  await page.getByRole('link', { name: 'All goals' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Goals' })).toBeVisible();
  await expect(page.getByRole('progressbar', { name: 'Progress of Read books' })).toHaveAttribute('value', '40');
  await expect(page.getByText('40 % · 4 books of 10 books')).toBeVisible();
  await expect(page.getByText('Due 2030-12-31')).toBeVisible();

  // Past the target: reached, the bar full, the percent past 100.
  await page.getByRole('link', { name: 'Read books' }).click();
  await addEntry(page, '8');
  await expect(page.getByText('120 % · 12 books of 10 books')).toBeVisible();
  await expect(bar).toHaveAttribute('value', '100');
  await expect(page.getByText(/^Reached/)).toBeVisible();

  // An entry edited and one deleted (asked first): the bar follows.
  const eight = page.locator('ul.items li').first(); // newest first
  await expect(eight).toContainText('+8 books');
  await eight.getByRole('button', { name: 'Edit' }).click();
  await expect(eight.getByLabel(/^Amount/)).toHaveValue('8');
  await eight.getByLabel(/^Amount/).fill('2');
  await eight.getByRole('button', { name: 'Save entry' }).click();
  await expect(page.getByText('60 % · 6 books of 10 books')).toBeVisible();
  const first = page.locator('ul.items li', { hasText: 'a novel and a half' });
  await first.getByRole('button', { name: 'Delete' }).click();
  await first.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(page.getByRole('status')).toHaveText('Entry deleted.');
  await expect(bar).toHaveAttribute('value', '45');
  await expect(page.getByText('45 % · 4.5 books of 10 books')).toBeVisible();
});

test('a goal without a target shows its sum; goals are edited and deleted (asked first)', async ({ page }) => {
  await newAccount(page);
  await page.goto('/goals');
  await page.getByLabel('Title').fill('Walk more');
  await page.getByLabel('Unit').fill('km');
  await page.getByRole('button', { name: 'Create goal' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Walk more' })).toBeVisible();
  await addEntry(page, '3');
  await expect(page.getByText('3 km so far (no target)')).toBeVisible();
  await expect(page.getByRole('progressbar')).toHaveCount(0);

  // A target given later: the bar appears.
  await page.getByLabel('Target (optional)').fill('12');
  await page.getByLabel('Title').fill('Walk much more');
  await page.getByRole('button', { name: 'Save goal' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Walk much more' })).toBeVisible();
  await expect(page.getByRole('progressbar', { name: 'Progress of Walk much more' })).toHaveAttribute('value', '25');

  // A form error, under its field.
  await page.getByLabel('Target (optional)').fill('-1');
  await page.getByRole('button', { name: 'Save goal' }).click();
  await expect(page.getByLabel('Target (optional)')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#f-goal-target_amount-error')).not.toBeEmpty();

  await page.getByRole('button', { name: 'Delete goal' }).click();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Walk much more' })).toBeVisible();
  await page.getByRole('button', { name: 'Delete goal' }).click();
  await page.getByRole('button', { name: 'Yes, delete goal' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Goals' })).toBeVisible();
  await expect(page.getByText('No goals yet')).toBeVisible();
});

test('a goal and its entry with the keyboard alone', async ({ page }) => {
  await newAccount(page);
  await page.goto('/goals');
  await expect(page.getByRole('heading', { level: 1, name: 'Goals' })).toBeFocused();
  // No goals yet: the form follows the heading.
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Title')).toBeFocused();
  await page.keyboard.type('Run a marathon');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Description')).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Target (optional)')).toBeFocused();
  await page.keyboard.type('42');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Run a marathon' })).toBeFocused();
  // The goal's page: its new entry's amount comes first.
  await page.keyboard.press('Tab');
  await expect(page.getByLabel(/^Amount/).first()).toBeFocused();
  await page.keyboard.type('21');
  await page.keyboard.press('Enter');
  await expect(page.getByRole('progressbar', { name: 'Progress of Run a marathon' })).toHaveAttribute('value', '50');
  // Delete the entry: Tab to its Delete, Enter; the confirmation's focus is on
  // Cancel, and "Yes, delete" is just before it.
  const del = page.locator('ul.items li').getByRole('button', { name: 'Delete' });
  for (let i = 0; i < 30 && !(await del.evaluate((b) => b === document.activeElement)); i++) await page.keyboard.press('Tab');
  await expect(del).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(page.getByRole('button', { name: 'Yes, delete' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('progressbar', { name: 'Progress of Run a marathon' })).toHaveAttribute('value', '0');
});

test('goal pages pass axe-core, also with a form error shown; back and forward work', async ({ page }) => {
  test.slow(); // many steps, axe-core runs: three times the timeout on a busy machine
  await newAccount(page);
  await page.goto('/goals');
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Create goal' }).click(); // no title
  await expect(page.getByLabel('Title')).toHaveAttribute('aria-invalid', 'true');
  await expectAccessible(page);
  await page.getByLabel('Title').fill('Save money');
  await page.getByLabel('Target (optional)').fill('1000');
  await page.getByRole('button', { name: 'Create goal' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Save money' })).toBeVisible();
  await addEntry(page, '250');
  await expectAccessible(page);
  await page.getByLabel(/^Amount/).first().fill('1e20');
  await page.getByRole('button', { name: 'Add entry' }).click();
  await expect(page.locator('#f-entry-new-amount-error')).not.toBeEmpty();
  await expectAccessible(page);
  await page.getByRole('link', { name: 'All goals' }).click();
  await expect(page.getByRole('progressbar', { name: 'Progress of Save money' })).toHaveAttribute('value', '25');
  await expectAccessible(page);

  await page.goBack();
  await expect(page.getByRole('heading', { level: 1, name: 'Save money' })).toBeVisible();
  await page.goBack();
  await expect(page.getByRole('heading', { level: 1, name: 'Goals' })).toBeVisible();
  await page.goForward();
  await expect(page.getByRole('heading', { level: 1, name: 'Save money' })).toBeVisible();
  await expect(page.getByText('25 % · 250 of 1000')).toBeVisible();
});
