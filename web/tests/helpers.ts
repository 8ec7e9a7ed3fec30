import { expect, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

const mailpit = process.env.MAILPIT_URL;

// A name no other test (or earlier run on the same database) has.
export function fresh(prefix: string): { username: string; email: string; password: string } {
  const id = `${prefix}${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`.slice(0, 30);
  return { username: id, email: `${id}@example.com`, password: 'correct horse battery staple' };
}

// The link of the newest mail to an address (Mailpit's API), waiting for the
// sender to deliver it; the path and query only, opened on the test's gateway.
export async function mailedLink(to: string, path: '/confirm-email' | '/reset-password'): Promise<string> {
  if (!mailpit) throw new Error('MAILPIT_URL is not set (scripts/test web sets it)');
  let link = '';
  await expect
    .poll(
      async () => {
        const search = await fetch(`${mailpit}/api/v1/search?query=${encodeURIComponent(`to:"${to}"`)}`);
        const { messages } = (await search.json()) as { messages: { ID: string }[] };
        for (const m of messages ?? []) {
          const msg = (await (await fetch(`${mailpit}/api/v1/message/${m.ID}`)).json()) as { Text: string };
          const found = msg.Text.match(new RegExp(`https?://[^\\s]+(${path}\\?token=[A-Za-z0-9_%-]+)`));
          if (found) {
            link = found[1];
            return true;
          }
        }
        return false;
      },
      { message: `a mail to ${to} with a ${path} link`, timeout: 15_000 },
    )
    .toBe(true);
  return link;
}

export async function signUp(page: Page, u: { username: string; email: string; password: string }): Promise<void> {
  await page.goto('/signup');
  await page.getByLabel('Username').fill(u.username);
  await page.getByLabel('E-mail').fill(u.email);
  await page.getByLabel('Password').fill(u.password);
  await page.getByRole('button', { name: 'Sign up' }).click();
  await expect(page.getByRole('heading', { level: 1, name: 'Check your mail' })).toBeVisible();
}

export async function logIn(page: Page, login: string, password: string): Promise<void> {
  await page.goto('/login');
  await page.getByLabel('Username or e-mail').fill(login);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// axe-core on the page as it stands: no serious or critical violation.
export async function expectAccessible(page: Page): Promise<void> {
  await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    // @ts-expect-error axe is the global the script above defines
    const r = await window.axe.run(document);
    return (r.violations as { id: string; impact: string; help: string; nodes: { target: string[] }[] }[])
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
  });
  expect(violations, `axe on ${page.url()}`).toEqual([]);
}

// An account's role, set as a DBA sets it (scripts/db role: auth.set_role as
// the owner role, with psql).
export function setRole(username: string, role: 'user' | 'author' | 'admin'): void {
  dbValue("SELECT auth.set_role(:'username', :'role');", { username, role });
}

// One value read from the database as its owner (psql, DB_OWNER_URL), the
// query's :'name' variables passed as psql quotes them, never spliced.
export function dbValue(query: string, vars: Record<string, string>): string {
  const url = process.env.DB_OWNER_URL;
  if (!url) throw new Error('DB_OWNER_URL is not set (scripts/test web sets it)');
  const args = [url, '-X', '-q', '-At', '-v', 'ON_ERROR_STOP=1'];
  for (const [k, v] of Object.entries(vars)) args.push('-v', `${k}=${v}`);
  return execFileSync('psql', args, { input: query }).toString().trim();
}

// A call to the API from the page (same origin, its session cookie), as the
// app makes it: for a test's setup, e.g. many posts at once.
export async function callApi(page: Page, method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> {
  return page.evaluate(
    async ([m, p, b]) => {
      const r = await fetch('/api/v1' + p, {
        method: m,
        credentials: 'same-origin',
        headers: b === undefined ? {} : { 'Content-Type': 'application/json' },
        body: b === undefined ? undefined : JSON.stringify(b),
      });
      const text = await r.text();
      return { status: r.status, json: text ? JSON.parse(text) : null };
    },
    [method, path, body] as const,
  );
}
