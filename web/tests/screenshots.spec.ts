import { expect, test, type APIRequestContext, type Browser, type Page } from '@playwright/test';
import { setRole } from './helpers';

// The pictures of the web client in docs/images (web-NAME-desktop.png,
// web-NAME-phone.png), drawn by `scripts/screenshots web` (scripts/test web
// with SCREENSHOTS_DIR set); skipped by any other run. Sample accounts and
// their data are made through the API first.
//
// A page more: one line in `shots` (its URL, who looks at it), and, if it
// needs data, a `seed` that makes it through the API as that account
// (`call(ctx, method, path, body)`), and a `ready` that waits until it shows
// (a chart drawn, a list loaded).
const dir = process.env.SCREENSHOTS_DIR;
test.skip(!dir, 'only for scripts/screenshots (SCREENSHOTS_DIR)');

type Who = 'visitor' | 'user' | 'admin';
interface Shot {
  name: string; // docs/images/web-NAME-{desktop,phone}.png
  path: string | (() => string); // a function when the seed makes the id
  as: Who;
  full?: boolean; // the whole page, not the window alone
  seed?: (s: Seeder) => Promise<void>;
  ready?: (page: Page) => Promise<void>;
}
interface Seeder {
  user: APIRequestContext; // logged in as the sample user (role author)
  admin: APIRequestContext; // logged in as the sample admin
  call: <T = unknown>(ctx: APIRequestContext, method: string, path: string, body?: unknown) => Promise<T>;
  logInElsewhere: (who: Exclude<Who, 'visitor'>, userAgent: string) => Promise<void>; // one more session
}

// Ids the seeds make, for the pages that show one thing.
const made = { post: 0, tracker: 0, goal: 0 };
const daysAgo = (n: number, hour = 12) => new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate() - n, hour)).toISOString();

const shots: Shot[] = [
  { name: 'home', path: '/', as: 'user' },
  { name: 'login', path: '/login', as: 'visitor' },
  {
    name: 'settings',
    path: '/settings',
    as: 'user',
    full: true,
    seed: async ({ user, call, logInElsewhere }) => {
      await call(user, 'PUT', '/account/preferences', { notification: 'daily', report_format: 'html', timezone: 'Europe/London' });
      await logInElsewhere('user', 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1');
    },
  },
  { name: 'admin', path: '/admin', as: 'admin', ready: (p) => expect(p.getByRole('table')).toBeVisible() },
  {
    name: 'blog',
    path: '/blog',
    as: 'visitor',
    seed: async ({ user, call }) => {
      await call(user, 'POST', '/posts', { title: 'Notes on the Analytical Engine', content: 'The engine weaves algebraic patterns, as the Jacquard loom weaves flowers and leaves.' });
      await call(user, 'POST', '/posts', { title: 'A plan for the week', content: 'Read, write, run three times.' });
      const { post } = await call<{ post: { id: number } }>(user, 'POST', '/posts', {
        title: 'Writing in Markdown',
        content: '## Why\n\nPosts are **Markdown**: lists, `code` and [links](https://example.com/) render; raw HTML does not.\n\n- one\n- two\n\n```\nSELECT api.list_posts(ctx, NULL, 20);\n```',
      });
      made.post = post.id;
    },
    ready: (p) => expect(p.getByRole('link', { name: 'Writing in Markdown' })).toBeVisible(),
  },
  { name: 'post', path: () => `/blog/${made.post}`, as: 'user', ready: (p) => expect(p.getByRole('heading', { level: 3, name: 'Why' })).toBeVisible() },
  {
    name: 'feed',
    path: '/feed',
    as: 'user',
    seed: async ({ user, admin, call }) => {
      const { activity } = await call<{ activity: { uuid: string } }>(user, 'POST', '/activities', { message: 'First run of the season: 5 km along the river.' });
      await call(admin, 'PUT', `/activities/${activity.uuid}/like`);
      await call(admin, 'POST', `/activities/${activity.uuid}/replies`, { message: 'Well done! Same route next week?' });
      await call(admin, 'POST', '/activities', { message: 'Found a moth in the relay again.' });
    },
    ready: (p) => expect(p.getByText('Found a moth in the relay again.')).toBeVisible(),
  },
  {
    name: 'tracker',
    path: () => `/trackers/${made.tracker}`,
    as: 'user',
    seed: async ({ user, call }) => {
      const { tracker } = await call<{ tracker: { id: number } }>(user, 'POST', '/trackers', { name: 'Running', type: 'numerical', unit: 'km', what_to_track: 'distance' });
      made.tracker = tracker.id;
      const km = [5, 0, 3.5, 7, 0, 4, 6.5, 0, 5, 8, 0, 3, 6, 10];
      for (const [i, v] of km.entries()) {
        if (v) await call(user, 'POST', `/trackers/${tracker.id}/logs`, { value: v, logged_at: daysAgo(km.length - 1 - i, 7), emotion: v >= 7 ? 'happy' : undefined });
      }
      await call(user, 'POST', '/trackers', { name: 'Journal', type: 'note' });
    },
    ready: (p) => expect(p.locator('canvas').first()).toBeVisible(),
  },
  {
    name: 'goals',
    path: '/goals',
    as: 'user',
    seed: async ({ user, call }) => {
      const { goal } = await call<{ goal: { id: number } }>(user, 'POST', '/goals', { title: 'Run 100 km this month', target_amount: 100, unit: 'km' });
      made.goal = goal.id;
      for (const a of [12, 9.5, 21]) await call(user, 'POST', `/goals/${goal.id}/entries`, { amount: a });
      const { goal: books } = await call<{ goal: { id: number } }>(user, 'POST', '/goals', { title: 'Read 12 books', target_amount: 12, unit: 'books' });
      for (let i = 0; i < 9; i++) await call(user, 'POST', `/goals/${books.id}/entries`, { amount: 1 });
    },
    ready: (p) => expect(p.getByRole('progressbar').first()).toBeVisible(),
  },
  { name: 'report', path: '/report', as: 'user', ready: (p) => expect(p.locator('.report dl').first()).toBeVisible() },
];

// Each size with a browser's usual User-Agent (the sessions list shows it).
const viewports = {
  desktop: { width: 1280, height: 800, userAgent: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36' },
  phone: { width: 375, height: 740, userAgent: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36' },
};
type Viewport = (typeof viewports)['desktop'];
const people: Record<Exclude<Who, 'visitor'>, { username: string; email: string; password: string; display_name: string }> = {
  user: { username: 'ada', email: 'ada@example.com', password: 'sample password one', display_name: 'Ada Lovelace' },
  admin: { username: 'grace', email: 'grace@example.com', password: 'sample password two', display_name: 'Grace Hopper' },
};

const base = () => test.info().project.use.baseURL!;
const origin = () => new URL(base()).origin;

async function call<T>(ctx: APIRequestContext, method: string, path: string, body?: unknown): Promise<T> {
  const r = await ctx.fetch('/api/v1' + path, { method, data: body, headers: { Origin: origin() } });
  if (!r.ok()) throw new Error(`${method} ${path}: ${r.status()} ${await r.text()}`);
  const text = await r.text();
  return (text ? JSON.parse(text) : null) as T;
}

// A browser context of the given size, logged in as who (its cookie).
async function contextAs(browser: Browser, who: Who, v: Viewport) {
  const ctx = await browser.newContext({ baseURL: base(), viewport: { width: v.width, height: v.height }, userAgent: v.userAgent, deviceScaleFactor: 1 });
  if (who !== 'visitor') {
    const p = people[who];
    await call(ctx.request, 'POST', '/sessions', { login: p.username, password: p.password });
  }
  return ctx;
}

// One test for both sizes: the samples are made once, by one worker.
test('screenshots, desktop (1280×800) and phone (375×740)', async ({ browser, playwright }) => {
  test.setTimeout(60_000 + shots.length * 20_000);
  // The sample accounts, made again from nothing: one kept from an earlier
  // run is deleted first (its posts, activities, trackers and goals with it).
  const anon = await playwright.request.newContext({ baseURL: base() });
  for (const p of Object.values(people)) {
    const old = await playwright.request.newContext({ baseURL: base() });
    const login = await old.post('/api/v1/sessions', { data: { login: p.username, password: p.password }, headers: { Origin: origin() } });
    if (login.ok()) await call(old, 'DELETE', '/account', { password: p.password });
    await old.dispose();
    const r = await anon.post('/api/v1/accounts', { data: p });
    if (r.status() !== 201) throw new Error(`sign-up of ${p.username}: ${r.status()} ${await r.text()}`);
  }
  await anon.dispose();
  setRole(people.user.username, 'author');
  setRole(people.admin.username, 'admin');
  const user = await contextAs(browser, 'user', viewports.desktop);
  const admin = await contextAs(browser, 'admin', viewports.desktop);
  const logInElsewhere = async (who: Exclude<Who, 'visitor'>, userAgent: string) => {
    const other = await playwright.request.newContext({ baseURL: base(), userAgent });
    await call(other, 'POST', '/sessions', { login: people[who].username, password: people[who].password });
    await other.dispose();
  };
  for (const s of shots) await s.seed?.({ user: user.request, admin: admin.request, call, logInElsewhere });
  await user.close();
  await admin.close();

  for (const [size, viewport] of Object.entries(viewports)) {
    for (const s of shots) {
      const ctx = await contextAs(browser, s.as, viewport);
      const page = await ctx.newPage();
      await page.goto(typeof s.path === 'function' ? s.path() : s.path);
      await expect(page.getByRole('heading', { level: 1 })).toBeVisible();
      await s.ready?.(page);
      await page.waitForLoadState('networkidle');
      await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
      await page.screenshot({ path: `${dir}/web-${s.name}-${size}.png`, fullPage: s.full ?? false });
      await ctx.close();
    }
  }
});
