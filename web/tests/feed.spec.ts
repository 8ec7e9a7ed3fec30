import { expect, test, type Locator, type Page } from '@playwright/test';
import { callApi, expectAccessible, fresh, logIn, signUp } from './helpers';

async function account(page: Page, prefix: string): Promise<string> {
  const u = fresh(prefix);
  await signUp(page, u);
  await logIn(page, u.username, u.password);
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();
  return u.username;
}

const item = (page: Page, text: string): Locator => page.locator('article.activity', { hasText: text });

async function post(page: Page, message: string): Promise<string> {
  const { status, json } = await callApi(page, 'POST', '/activities', { message });
  expect(status).toBe(201);
  return json.activity.uuid;
}

test('post, like, repost, reply and delete: the counts change on the page without a reload', async ({ page, browser }) => {
  test.slow(); // two accounts, many steps
  const me = await account(page, 'fa');
  const message = `Hello from ${me}`;
  await page.getByRole('link', { name: 'Feed' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Feed' })).toBeVisible();
  await page.evaluate(() => ((window as unknown as { sameLoad: boolean }).sameLoad = true));

  await page.getByLabel('Message').fill(message);
  await page.getByLabel('Expires (optional)').fill('2099-06-01T12:30');
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  await expect(page.getByRole('status').first()).toHaveText('Posted.');
  const mine = item(page, message);
  await expect(mine).toContainText('Expires');
  await expect(mine.locator('.counts')).toHaveText('0 replies · 0 likes · 0 reposts');
  await expect(page.getByLabel('Message')).toHaveValue('');
  await expect(page.locator('article.activity').first()).toContainText(message);
  // The expiry went out as RFC 3339 in UTC, the local time the person chose.
  const uuid = (await mine.getByRole('link', { name: 'Reply' }).getAttribute('href'))!.split('/').pop()!;
  const stored = (await callApi(page, 'GET', `/activities/${uuid}`)).json.activity;
  expect(new Date(stored.expires_at).getTime()).toBe(new Date(2099, 5, 1, 12, 30).getTime());

  // Like and unlike, repost and undo: toggle buttons, the counts from the API.
  const like = mine.getByRole('button', { name: 'Like' });
  const repost = mine.getByRole('button', { name: 'Repost' });
  await expect(like).toHaveAttribute('aria-pressed', 'false');
  await like.click();
  await expect(like).toHaveAttribute('aria-pressed', 'true');
  await expect(mine.locator('.counts')).toHaveText('0 replies · 1 like · 0 reposts');
  await like.click();
  await expect(like).toHaveAttribute('aria-pressed', 'false');
  await expect(mine.locator('.counts')).toHaveText('0 replies · 0 likes · 0 reposts');
  await repost.click();
  await expect(repost).toHaveAttribute('aria-pressed', 'true');
  await expect(mine.locator('.counts')).toHaveText('0 replies · 0 likes · 1 repost');
  await repost.click();
  await expect(mine.locator('.counts')).toHaveText('0 replies · 0 likes · 0 reposts');

  // Someone else likes it: a count read after one's own action includes it.
  const other = await browser.newPage();
  await account(other, 'fb');
  await other.goto('/feed');
  await expect(item(other, message).getByRole('button', { name: 'Delete', exact: true })).toHaveCount(0);
  await item(other, message).getByRole('button', { name: 'Like' }).click();
  await expect(item(other, message).locator('.counts')).toHaveText('0 replies · 1 like · 0 reposts');
  await like.click();
  await expect(mine.locator('.counts')).toHaveText('0 replies · 2 likes · 0 reposts');

  // The thread: reply, the counts follow.
  await mine.getByRole('link', { name: 'Reply' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Thread' })).toBeVisible();
  await expect(page).toHaveURL(new RegExp(`/feed/${uuid}$`));
  await expect(page.getByRole('heading', { level: 2, name: '0 replies' })).toBeVisible();
  await page.getByLabel('Your reply').fill('A reply of mine');
  await page.getByRole('button', { name: 'Reply' }).click();
  await expect(item(page, 'A reply of mine')).toBeVisible();
  await expect(page.getByRole('heading', { level: 2, name: '1 reply' })).toBeVisible();
  await expect(item(page, message).locator('.counts')).toHaveText('1 reply · 2 likes · 0 reposts');
  await expect(item(page, 'A reply of mine')).toContainText('Expires'); // a thread expires as one

  // Another reply by someone else, then mine deleted after the confirmation.
  await other.goto(`/feed/${uuid}`);
  await other.getByLabel('Your reply').fill('Their reply');
  await other.getByRole('button', { name: 'Reply' }).click();
  await expect(other.getByRole('heading', { level: 2, name: '2 replies' })).toBeVisible();
  const reply = item(page, 'A reply of mine');
  await reply.getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(reply.getByText('Delete this activity?')).toBeVisible();
  await reply.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(item(page, 'A reply of mine')).toHaveCount(0);
  await expect(page.getByRole('heading', { level: 2, name: '1 reply' })).toBeVisible();
  await expect(item(page, message).locator('.counts')).toHaveText('1 reply · 2 likes · 0 reposts');

  // Back on the feed, the counts are the new ones.
  await page.goBack();
  await expect(page.getByRole('heading', { level: 1, name: 'Feed' })).toBeVisible();
  await expect(item(page, message).locator('.counts')).toHaveText('1 reply · 2 likes · 0 reposts');
  expect(await page.evaluate(() => (window as unknown as { sameLoad?: boolean }).sameLoad)).toBe(true);

  // Delete: Cancel keeps it; "Yes, delete" removes it and its replies.
  await item(page, message).getByRole('button', { name: 'Delete', exact: true }).click();
  await expect(item(page, message)).toContainText('Delete this activity and its replies?');
  await item(page, message).getByRole('button', { name: 'Cancel' }).click();
  await expect(item(page, message).getByRole('button', { name: 'Yes, delete' })).toBeHidden();
  await item(page, message).getByRole('button', { name: 'Delete', exact: true }).click();
  await item(page, message).getByRole('button', { name: 'Yes, delete' }).click();
  await expect(item(page, message)).toHaveCount(0);
  await expect(page.getByRole('status').first()).toHaveText('Deleted.');
  expect((await callApi(page, 'GET', `/activities/${uuid}`)).status).toBe(404);
  await other.goto(`/feed/${uuid}`);
  await expect(other.getByRole('heading', { level: 1, name: 'Not found' })).toBeVisible();
  await other.close();
});

test('a repost made before this page loaded: the button learns it from the 409', async ({ page }) => {
  await account(page, 'fr');
  const message = `Repost me ${fresh('m').username}`;
  const uuid = await post(page, message);
  expect((await callApi(page, 'POST', `/activities/${uuid}/reposts`)).status).toBe(201);
  await page.goto('/feed');
  const repost = item(page, message).getByRole('button', { name: 'Repost' });
  await expect(repost).toHaveAttribute('aria-pressed', 'false');
  await repost.click();
  await expect(repost).toHaveAttribute('aria-pressed', 'true');
  await expect(item(page, message).locator('.counts')).toHaveText('0 replies · 0 likes · 1 repost');
  await expect(item(page, message).locator('p.error')).toBeEmpty(); // the 409 shown as no error
  await repost.click();
  await expect(item(page, message).locator('.counts')).toHaveText('0 replies · 0 likes · 0 reposts');
});

test('reading needs no login; the forms show once logged in; a user\u2019s page', async ({ page, browser }) => {
  const author = await account(page, 'fu');
  const message = `Readable by all ${author}`;
  const uuid = await post(page, message);
  expect((await callApi(page, 'POST', `/activities/${uuid}/replies`, { message: `Replying to myself ${author}` })).status).toBe(201);

  const anon = await browser.newPage();
  await anon.goto('/feed');
  await expect(item(anon, message)).toContainText('1 reply');
  await expect(anon.getByLabel('Message')).toHaveCount(0);
  await expect(item(anon, message).getByRole('button')).toHaveCount(0);
  await item(anon, message).getByRole('link', { name: '1 reply' }).click();
  await expect(anon.getByRole('heading', { level: 1, name: 'Thread' })).toBeVisible();
  await expect(item(anon, `Replying to myself ${author}`)).toBeVisible();
  await expect(anon.getByLabel('Your reply')).toHaveCount(0);

  // The author's page: top-level activities and replies, a reply linking its parent.
  await item(anon, message).getByRole('link', { name: '@' + author }).click();
  await expect(anon.getByRole('heading', { level: 1, name: '@' + author })).toBeVisible();
  await expect(anon.locator('article.activity')).toHaveCount(2);
  await item(anon, 'Replying to myself').getByRole('link', { name: 'In reply to an activity' }).click();
  await expect(anon).toHaveURL(new RegExp(`/feed/${uuid}$`));
  await anon.goto('/users/no-such-user-here');
  await expect(anon.getByRole('heading', { level: 1, name: 'Not found' })).toBeVisible();

  // Log in from the feed, and back to it with the form.
  await anon.goto('/feed');
  await anon.getByRole('main').getByRole('link', { name: 'Log in' }).click();
  await expect(anon).toHaveURL(/\/login\?next=%2Ffeed$|\/login\?next=\/feed$/);
  const u = fresh('fl');
  await anon.close();
  const next = await browser.newPage();
  await signUp(next, u);
  await next.goto('/feed');
  await next.getByRole('main').getByRole('link', { name: 'Log in' }).click();
  await next.getByLabel('Username or e-mail').fill(u.username);
  await next.getByLabel('Password').fill(u.password);
  await next.getByRole('button', { name: 'Log in' }).click();
  await expect(next.getByRole('heading', { level: 1, name: 'Feed' })).toBeVisible();
  await expect(next.getByLabel('Message')).toBeVisible();
  await next.close();
});

test('the API\u2019s errors are shown by their fields', async ({ page }) => {
  await account(page, 'fe');
  await page.goto('/feed');
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  await expect(page.getByLabel('Message')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#f-message-error')).not.toBeEmpty();
  await page.getByLabel('Message').fill('Expired already');
  await page.getByLabel('Expires (optional)').fill('2001-01-01T00:00');
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  await expect(page.getByLabel('Expires (optional)')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#f-expires_at-error')).not.toBeEmpty();
  await expect(item(page, 'Expired already')).toHaveCount(0);
});

test('the feed pages with "Older"; back and forward', async ({ page }) => {
  const me = await account(page, 'fp');
  for (let i = 1; i <= 21; i++) await post(page, `${me} item ${i}.`);
  await page.goto('/feed');
  await expect(page.locator('article.activity')).toHaveCount(20);
  await expect(item(page, `${me} item 21.`)).toBeVisible();
  await expect(item(page, `${me} item 1.`)).toHaveCount(0);
  const first = await page.locator('article.activity .message').allTextContents();
  let pages = 1;
  while ((await item(page, `${me} item 1.`).count()) === 0 && pages < 5) {
    const top = (await page.locator('article.activity .message').first().textContent())!;
    await page.getByRole('link', { name: 'Older' }).click();
    await expect(page).toHaveURL(/\/feed\?before=/);
    await expect(page.getByRole('heading', { level: 2, name: 'Older activities' })).toBeVisible();
    await expect(page.locator('article.activity .message').first()).not.toHaveText(top); // the next page is shown
    pages++;
  }
  await expect(item(page, `${me} item 1.`)).toBeVisible();
  const older = await page.locator('article.activity .message').allTextContents();
  expect(older.filter((t) => first.includes(t))).toEqual([]);
  await expect(page.getByLabel('Message')).toHaveCount(0); // the form is on the newest page

  await item(page, `${me} item 1.`).getByRole('link', { name: 'Reply' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Thread' })).toBeVisible();
  await page.goBack();
  await expect(item(page, `${me} item 1.`)).toBeVisible();
  await page.goForward();
  await expect(page.getByRole('heading', { level: 1, name: 'Thread' })).toBeVisible();
  await expect(item(page, `${me} item 1.`)).toBeVisible();
  for (let i = 0; i < pages; i++) await page.goBack();
  await expect(page).toHaveURL(/\/feed$/);
  await expect(item(page, `${me} item 21.`)).toBeVisible();
});

test('a long thread pages with "More replies"', async ({ page }) => {
  const me = await account(page, 'ft');
  // 22 writes: the limit is 30 a minute per account (activity_account).
  const root = await post(page, `${me} thread root.`);
  for (let i = 1; i <= 21; i++) expect((await callApi(page, 'POST', `/activities/${root}/replies`, { message: `reply ${i}.` })).status).toBe(201);
  await page.goto(`/feed/${root}`);
  await expect(page.getByRole('heading', { level: 2, name: '21 replies' })).toBeVisible();
  await expect(page.locator('.activities article.activity')).toHaveCount(20);
  await page.getByRole('button', { name: 'More replies' }).click();
  await expect(page.locator('.activities article.activity')).toHaveCount(21);
  await expect(page.locator('.activities article.activity .message')).toHaveText(Array.from({ length: 21 }, (_, i) => `reply ${i + 1}.`));
  await expect(page.getByRole('button', { name: 'More replies' })).toBeHidden();
});

test('post and like with the keyboard alone', async ({ page }) => {
  const me = await account(page, 'fk');
  const message = `Keys only ${me}`;
  await page.goto('/feed');
  await expect(page.getByRole('heading', { level: 1, name: 'Feed' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Message')).toBeFocused();
  await page.keyboard.type(message);
  // Past the expiry's fields to the button.
  const postButton = page.getByRole('button', { name: 'Post', exact: true });
  for (let i = 0; i < 12 && !(await postButton.evaluate((b) => b === document.activeElement)); i++) await page.keyboard.press('Tab');
  await expect(postButton).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(item(page, message)).toBeVisible();
  await expect(page.getByLabel('Message')).toBeFocused();
  const like = item(page, message).getByRole('button', { name: 'Like' });
  for (let i = 0; i < 20 && !(await like.evaluate((b) => b === document.activeElement)); i++) await page.keyboard.press('Tab');
  await expect(like).toBeFocused();
  await page.keyboard.press('Space');
  await expect(like).toHaveAttribute('aria-pressed', 'true');
  await expect(item(page, message).locator('.counts')).toHaveText('0 replies · 1 like · 0 reposts');
  await expect(like).toBeFocused();
  // To its thread by its Reply link (just before Like), and reply there.
  await page.keyboard.press('Shift+Tab');
  await expect(item(page, message).getByRole('link', { name: 'Reply' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Thread' })).toBeFocused();
  const replyBox = page.getByLabel('Your reply');
  for (let i = 0; i < 10 && !(await replyBox.evaluate((b) => b === document.activeElement)); i++) await page.keyboard.press('Tab');
  await expect(replyBox).toBeFocused();
  await page.keyboard.type('A reply by keys');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Reply' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 2, name: '1 reply' })).toBeVisible();
});

test('the feed on a phone (375 px): no horizontal scrolling', async ({ page }) => {
  await page.setViewportSize({ width: 375, height: 740 });
  // The longest handle, of wide letters: the user page's <h1> must wrap it.
  const me = ('fm' + Date.now().toString(36) + Math.floor(Math.random() * 1e6).toString(36) + 'm'.repeat(30)).slice(0, 30);
  await signUp(page, { username: me, email: `${me}@example.com`, password: 'correct horse battery staple' });
  await logIn(page, me, 'correct horse battery staple');
  await expect(page.getByText(`Signed in as ${me}`)).toBeVisible();
  const uuid = await post(page, 'x'.repeat(280));
  await callApi(page, 'POST', `/activities/${uuid}/replies`, { message: 'https://example.com/' + 'y'.repeat(250) });
  for (const path of ['/feed', `/feed/${uuid}`, `/users/${me}`]) {
    await page.goto(path);
    await expect(page.locator('article.activity').first()).toBeVisible();
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    // What sticks out, named in the failure.
    const wide = await page.evaluate(() =>
      [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > 375 || e.scrollWidth > e.clientWidth + 1)
        .map((e) => `<${e.tagName.toLowerCase()} class="${e.className}"> ${e.scrollWidth}/${e.clientWidth} ${e.textContent?.slice(0, 40)}`)
        .slice(0, 5)
        .join(' '),
    );
    expect(width, `${path} scrolls sideways: ${wide}`).toBeLessThanOrEqual(375);
  }
  await page.goto('/feed');
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  await expect(page.locator('#f-message-error')).not.toBeEmpty();
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
  await expectAccessible(page);
});

test('the feed pages pass axe-core, with an error shown too', async ({ page }) => {
  test.slow(); // axe-core runs nine times
  await page.goto('/feed');
  await expect(page.getByRole('heading', { level: 1, name: 'Feed' })).toBeVisible();
  await expectAccessible(page);
  await page.goto('/feed/00000000-0000-4000-8000-000000000000');
  await expect(page.getByRole('heading', { level: 1, name: 'Not found' })).toBeVisible();
  await expectAccessible(page);
  await page.goto('/feed/not-a-uuid');
  await expect(page.getByRole('alert')).not.toBeEmpty();
  await expectAccessible(page);

  const me = await account(page, 'fx');
  const uuid = await post(page, `For axe ${me}`);
  await callApi(page, 'POST', `/activities/${uuid}/replies`, { message: 'A reply' });
  await page.goto('/feed');
  await expect(item(page, `For axe ${me}`)).toBeVisible();
  await expectAccessible(page);
  await item(page, `For axe ${me}`).getByRole('button', { name: 'Like' }).click();
  await item(page, `For axe ${me}`).getByRole('button', { name: 'Delete', exact: true }).click();
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Post', exact: true }).click();
  await expect(page.locator('#f-message-error')).not.toBeEmpty();
  await expectAccessible(page);
  await page.goto(`/feed/${uuid}`);
  await expect(page.getByRole('heading', { level: 1, name: 'Thread' })).toBeVisible();
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Reply' }).click();
  await expect(page.locator('#f-message-error')).not.toBeEmpty();
  await expectAccessible(page);
  await page.goto(`/users/${me}`);
  await expect(page.getByRole('heading', { level: 1, name: '@' + me })).toBeVisible();
  await expectAccessible(page);
});

test('a 401 on an action leads to the login page, and back after logging in', async ({ page, context }) => {
  const u = fresh('fs');
  await signUp(page, u);
  await logIn(page, u.username, u.password);
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();
  const message = `Still here ${u.username}`;
  await post(page, message);
  await page.goto('/feed');
  await expect(item(page, message)).toBeVisible();
  // The session ends elsewhere (another tab logs out); this tab still shows the buttons.
  const other = await context.newPage();
  await other.goto('/');
  expect((await callApi(other, 'DELETE', '/session')).status).toBe(204);
  await other.close();
  await item(page, message).getByRole('button', { name: 'Like' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Log in' })).toBeVisible();
  await expect(page).toHaveURL(/\/login\?next=%2Ffeed$/);
  await page.getByLabel('Username or e-mail').fill(u.username);
  await page.getByLabel('Password').fill(u.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Feed' })).toBeVisible();
  await expect(page).toHaveURL(/\/feed$/);
  await item(page, message).getByRole('button', { name: 'Like' }).click();
  await expect(item(page, message).locator('.counts')).toHaveText('0 replies · 1 like · 0 reposts');
});
