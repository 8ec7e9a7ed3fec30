import { expect, test } from '@playwright/test';

// The router (web/src/app.ts): a page left while it loads never draws over
// the page that replaced it; its reads are aborted.
test('a slow page left for another does not draw over it', async ({ page }) => {
  await page.goto('/');
  await expect(page.getByRole('heading', { level: 1, name: 'Home' })).toBeVisible();

  // The blog's list answers late (held until the feed shows).
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  await page.route('**/api/v1/posts*', async (route) => {
    await held;
    await route.continue().catch(() => {}); // aborted by then: nothing to continue
  });
  const blogRead = page.waitForRequest((r) => new URL(r.url()).pathname === '/api/v1/posts');
  await page.getByRole('link', { name: 'Blog', exact: true }).click();
  const read = await blogRead;
  const settled = Promise.race([
    page.waitForEvent('requestfailed', (r) => r === read).then(() => 'aborted'),
    page.waitForEvent('requestfinished', (r) => r === read).then(() => 'answered'),
  ]);
  await page.getByRole('link', { name: 'Feed', exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Feed' })).toBeVisible();
  release();
  const how = await settled;
  await page.waitForLoadState('networkidle');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('Feed');
  await expect(page).toHaveURL(/\/feed$/);
  await expect(page).toHaveTitle(/^Feed/);
  expect(how).toBe('aborted');
});
