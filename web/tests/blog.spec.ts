import { expect, test, type Page } from '@playwright/test';
import { callApi, expectAccessible, fresh, logIn, setRole, signUp } from './helpers';

// A new account with a role, logged in on the page.
async function account(page: Page, prefix: string, role: 'user' | 'author' | 'admin'): Promise<string> {
  const u = fresh(prefix);
  await signUp(page, u);
  if (role !== 'user') setRole(u.username, role);
  await logIn(page, u.username, u.password);
  await expect(page.getByText(`Signed in as ${u.username}`)).toBeVisible();
  return u.username;
}

test('an author writes, edits and deletes a post; a reader reads it; a plain user may not change it', async ({ page, browser }) => {
  test.slow(); // two accounts, many steps
  await account(page, 'bw', 'author');
  const title = `Post ${fresh('t').username}`;

  await page.getByRole('link', { name: 'Blog' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Blog' })).toBeVisible();
  await page.getByRole('link', { name: 'Write a post' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Write a post' })).toBeVisible();
  await page.getByLabel('Title').fill(title);
  await page.getByLabel('Content (Markdown)').fill('Hello **bold** world.\n\n- one\n- two\n\n[a link](https://example.com/x)');
  await page.getByRole('button', { name: 'Publish' }).click();

  // The post's page: the Markdown rendered.
  await expect(page.getByRole('heading', { level: 1, name: title })).toBeVisible();
  await expect(page).toHaveURL(/\/blog\/\d+$/);
  const postUrl = new URL(page.url()).pathname;
  await expect(page.locator('.post-body strong')).toHaveText('bold');
  await expect(page.locator('.post-body li')).toHaveText(['one', 'two']);
  await expect(page.locator('.post-body a')).toHaveAttribute('href', 'https://example.com/x');

  // In the list, with its default excerpt (the Markdown as typed).
  await page.getByRole('link', { name: 'All posts' }).click();
  const item = page.locator('.posts article', { hasText: title });
  await expect(item).toContainText('Hello **bold** world.');

  // Edit: a new title and content; the default excerpt follows the content.
  await item.getByRole('link', { name: title }).click();
  await page.getByRole('link', { name: 'Edit' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Edit post' })).toBeVisible();
  await expect(page.getByLabel('Title')).toHaveValue(title);
  await page.getByLabel('Title').fill(title + ' (edited)');
  await page.getByLabel('Content (Markdown)').fill('Changed *text*.');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByRole('heading', { level: 1, name: title + ' (edited)' })).toBeVisible();
  await expect(page.locator('.post-body em')).toHaveText('text');
  await page.getByRole('link', { name: 'All posts' }).click();
  await expect(page.locator('.posts article', { hasText: title + ' (edited)' })).toContainText('Changed *text*.');

  // An error of the API is shown by its field.
  await page.goto(postUrl + '/edit');
  await page.getByLabel('Title').fill('   ');
  await page.getByRole('button', { name: 'Save' }).click();
  await expect(page.getByLabel('Title')).toHaveAttribute('aria-invalid', 'true');
  await expect(page.locator('#f-title-error')).not.toBeEmpty();

  // Someone logged out reads it; a plain user sees no way to change it.
  const other = await browser.newPage();
  await other.goto(postUrl);
  await expect(other.getByRole('heading', { level: 1, name: title + ' (edited)' })).toBeVisible();
  await expect(other.getByRole('link', { name: 'Edit' })).toHaveCount(0);
  await account(other, 'br', 'user');
  await other.goto(postUrl);
  await expect(other.getByRole('heading', { level: 1, name: title + ' (edited)' })).toBeVisible();
  await expect(other.getByRole('button', { name: 'Delete' })).toHaveCount(0);
  await other.goto('/blog');
  await expect(other.getByRole('link', { name: 'Write a post' })).toHaveCount(0);
  await other.goto('/blog/new');
  await expect(other.getByText('Only authors and admins write posts.')).toBeVisible();
  await other.close();

  // Delete: nothing happens before the confirmation; Cancel keeps it.
  await page.goto(postUrl);
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Cancel' }).click();
  await expect(page.getByRole('button', { name: 'Yes, delete' })).toBeHidden();
  await page.reload();
  await expect(page.getByRole('heading', { level: 1, name: title + ' (edited)' })).toBeVisible();
  await page.getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Blog' })).toBeVisible();
  await expect(page.locator('.posts article', { hasText: title })).toHaveCount(0);
  await page.goto(postUrl);
  await expect(page.getByRole('heading', { level: 1, name: 'Not found' })).toBeVisible();
  await expect(page.getByRole('alert')).not.toBeEmpty();
});

test('an admin edits and deletes another author\u2019s post', async ({ page, browser }) => {
  await account(page, 'ba', 'author');
  const title = `By an author ${fresh('t').username}`;
  const { json } = await callApi(page, 'POST', '/posts', { title, content: 'Text.' });
  const admin = await browser.newPage();
  await account(admin, 'bd', 'admin');
  await admin.goto(`/blog/${json.post.id}`);
  await admin.getByRole('link', { name: 'Edit' }).click();
  await admin.getByLabel('Excerpt (optional: the start of the post otherwise)').fill('An excerpt of the admin');
  await admin.getByRole('button', { name: 'Save' }).click();
  await expect(admin.getByRole('heading', { level: 1, name: title })).toBeVisible();
  await admin.getByRole('button', { name: 'Delete' }).click();
  await admin.getByRole('button', { name: 'Yes, delete' }).click();
  await expect(admin.getByRole('heading', { level: 1, name: 'Blog' })).toBeVisible();
  expect((await callApi(page, 'GET', `/posts/${json.post.id}`)).status).toBe(404);
  await admin.close();
});

test('a hostile post renders inert', async ({ page }) => {
  await account(page, 'bh', 'author');
  const dialogs: string[] = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  const content = [
    '<script>window.__pwned = 1; alert("script")</script>',
    '',
    '<img src=x onerror="window.__pwned = 2; alert(\'img\')">',
    '',
    '[x](javascript:window.__pwned=3;alert(1))',
    '',
    '[y](JAVASCRIPT:alert(2)) [z](  javascript:alert(3)) [d](data:text/html,<script>alert(4)</script>) [v](vbscript:msgbox(5))',
    '',
    '![i](javascript:alert(6)) <a href="javascript:alert(7)">a</a> <svg onload="alert(8)"></svg>',
    '',
    'A [safe link](https://example.com/) stays.',
  ].join('\n');
  const { status, json } = await callApi(page, 'POST', '/posts', { title: 'Hostile', content });
  expect(status).toBe(201);
  await page.goto(`/blog/${json.post.id}`);
  const body = page.locator('.post-body');
  await expect(body.getByRole('link', { name: 'safe link' })).toHaveAttribute('href', 'https://example.com/');
  // The markup typed is shown as text, not made into elements.
  await expect(body).toContainText('<script>');
  await expect(body).toContainText('onerror');
  // Give an injected handler time to fire, then look.
  await page.waitForTimeout(500);
  const found = await page.evaluate(() => {
    const root = document.querySelector('.post-body')!;
    const all = [...root.querySelectorAll('*')];
    return {
      scripts: root.querySelectorAll('script, svg, iframe, object, embed').length,
      onAttrs: all.flatMap((e) => [...e.attributes].filter((a) => a.name.toLowerCase().startsWith('on')).map((a) => `${e.tagName} ${a.name}`)),
      badUrls: all.flatMap((e) => ['href', 'src'].map((n) => e.getAttribute(n) ?? '')).filter((u) => /^\s*(javascript|vbscript|data):/i.test(u)),
      links: root.querySelectorAll('a').length,
      pwned: (window as unknown as { __pwned?: number }).__pwned ?? null,
    };
  });
  expect(found).toEqual({ scripts: 0, onAttrs: [], badUrls: [], links: 1, pwned: null });
  expect(dialogs).toEqual([]);
  // The same after clicking where the links were.
  await body.getByText('[x](javascript:').click();
  expect(dialogs).toEqual([]);
  await expect(page).toHaveURL(new RegExp(`/blog/${json.post.id}$`));
});

test('the list pages with "Older posts", and back and forward return to each page', async ({ page }) => {
  await account(page, 'bp', 'author');
  const tag = fresh('p').username;
  for (let i = 1; i <= 21; i++) {
    expect((await callApi(page, 'POST', '/posts', { title: `${tag} number ${i}`, content: `Post ${i}.` })).status).toBe(201);
  }
  // markdown-it loads on a post's page only, not with the app or the list.
  const loaded: string[] = [];
  page.on('request', (r) => {
    if (/markdown-it/.test(r.url())) loaded.push(r.url());
  });
  await page.goto('/blog');
  await expect(page.locator('.posts article')).toHaveCount(20);
  await expect(page.getByRole('link', { name: `${tag} number 21` })).toBeVisible();
  await expect(page.getByRole('link', { name: `${tag} number 1`, exact: true })).toHaveCount(0);
  const first = await page.locator('.posts article h2').allTextContents();
  // Older pages until the first post is shown (other tests may write beside this one).
  let pages = 1;
  while ((await page.getByRole('link', { name: `${tag} number 1`, exact: true }).count()) === 0 && pages < 5) {
    const top = (await page.locator('.posts article h2').first().textContent())!;
    await page.getByRole('link', { name: 'Older posts' }).click();
    await expect(page).toHaveURL(/\/blog\?before=/);
    await expect(page.locator('.posts article h2').first()).not.toHaveText(top); // the next page is shown
    pages++;
  }
  await expect(page.getByRole('link', { name: `${tag} number 1`, exact: true })).toBeVisible();
  const older = await page.locator('.posts article h2').allTextContents();
  expect(older.filter((t) => first.includes(t))).toEqual([]);
  await expect(page.getByRole('link', { name: 'Newest posts' })).toBeVisible();

  // A post, then back to this page and forward again.
  expect(loaded).toEqual([]);
  await page.getByRole('link', { name: `${tag} number 1`, exact: true }).click();
  await expect(page.getByRole('heading', { level: 1, name: `${tag} number 1` })).toBeVisible();
  await expect(page.locator('.post-body')).toHaveText('Post 1.');
  expect(loaded).toHaveLength(1);
  await page.goBack();
  await expect(page).toHaveURL(/\/blog\?before=/);
  await expect(page.getByRole('link', { name: `${tag} number 1`, exact: true })).toBeVisible();
  await page.goForward();
  await expect(page.getByRole('heading', { level: 1, name: `${tag} number 1` })).toBeVisible();
  for (let i = 0; i < pages; i++) await page.goBack();
  await expect(page).toHaveURL(/\/blog$/);
  await expect(page.getByRole('link', { name: `${tag} number 21` })).toBeVisible();
});

test('write a post with the keyboard alone', async ({ page }) => {
  await account(page, 'bk', 'author');
  const title = `Typed ${fresh('k').username}`;
  await page.goto('/blog/new');
  await expect(page.getByRole('heading', { level: 1, name: 'Write a post' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Title')).toBeFocused();
  await page.keyboard.type(title);
  await page.keyboard.press('Tab');
  await page.keyboard.press('Tab');
  await expect(page.getByLabel('Content (Markdown)')).toBeFocused();
  await page.keyboard.type('Written with *keys* only.');
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Publish' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: title })).toBeFocused();
  await expect(page.locator('.post-body em')).toHaveText('keys');
  // Delete it: past the Edit link to Delete; the confirmation takes the focus
  // to Cancel, and "Yes, delete" is just before it.
  await page.keyboard.press('Tab');
  await expect(page.getByRole('link', { name: 'Edit' })).toBeFocused();
  await page.keyboard.press('Tab');
  await expect(page.getByRole('button', { name: 'Delete' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('button', { name: 'Cancel' })).toBeFocused();
  await page.keyboard.press('Shift+Tab');
  await expect(page.getByRole('button', { name: 'Yes, delete' })).toBeFocused();
  await page.keyboard.press('Enter');
  await expect(page.getByRole('heading', { level: 1, name: 'Blog' })).toBeFocused();
});

test('the blog pages pass axe-core, with an error shown too', async ({ page }) => {
  test.slow(); // axe-core runs seven times
  await page.goto('/blog');
  await expect(page.getByRole('heading', { level: 1, name: 'Blog' })).toBeVisible();
  await expectAccessible(page);
  await page.goto('/blog/999999999');
  await expect(page.getByRole('heading', { level: 1, name: 'Not found' })).toBeVisible();
  await expectAccessible(page);

  await account(page, 'bx', 'author');
  await page.goto('/blog/new');
  await expect(page.getByRole('heading', { level: 1, name: 'Write a post' })).toBeVisible();
  await expectAccessible(page);
  await page.getByRole('button', { name: 'Publish' }).click();
  await expect(page.locator('#f-title-error')).not.toBeEmpty();
  await expect(page.locator('#f-content-error')).not.toBeEmpty();
  await expectAccessible(page);

  const { json } = await callApi(page, 'POST', '/posts', { title: 'For axe', content: '# Heading\n\nText with `code` and a [link](/blog).' });
  await page.goto(`/blog/${json.post.id}`);
  // The post's own headings start at <h2>: the page's <h1> is its title.
  await expect(page.locator('.post-body h2')).toHaveText('Heading');
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('For axe');
  await page.getByRole('button', { name: 'Delete' }).click();
  await expectAccessible(page);
  await page.goto(`/blog/${json.post.id}/edit`);
  await expect(page.getByRole('heading', { level: 1, name: 'Edit post' })).toBeVisible();
  await expectAccessible(page);
  await page.goto('/blog');
  await expectAccessible(page);
});
