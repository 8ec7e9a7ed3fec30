import { expect, test } from '@playwright/test';
import { dbValue, fresh, logIn, signUp } from './helpers';

// One trace from the click to the SQL (docs/operations/functions.md, "One
// trace"): each API call of the app carries a traceparent the app made; the
// gateway answers the same trace id, and the audit rows of the call hold it.
test("a click's traceparent: answered by the gateway and stored in the call's audit row", async ({ page }) => {
  const u = fresh('tp');
  await signUp(page, u);
  const sent: string[] = [];
  page.on('request', (r) => {
    if (r.url().includes('/api/v1/')) sent.push(r.headers()['traceparent'] ?? '');
  });
  const answer = page.waitForResponse((r) => r.url().endsWith('/api/v1/sessions') && r.request().method() === 'POST');
  await logIn(page, u.username, u.password);
  const res = await answer;

  // Every call sent one, well-formed, and no two the same trace.
  expect(sent.length).toBeGreaterThan(0);
  for (const tp of sent) expect(tp).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
  expect(new Set(sent.map((tp) => tp.split('-')[1])).size).toBe(sent.length);

  const mine = res.request().headers()['traceparent'];
  const traceId = mine.split('-')[1];
  const answered = res.headers()['traceparent'];
  expect(answered).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  expect(answered.split('-')[1]).toBe(traceId); // the same trace, the gateway's own span

  // The login's audit row names the trace: 'login succeeded', for this account.
  const row = dbValue(
    "SELECT l.source || ' ' || l.message || ' ' || (a.username = :'u') FROM audit.logs l JOIN auth.accounts a ON a.id = l.account_id WHERE l.trace_id = :'t'",
    { t: traceId, u: u.username },
  );
  expect(row).toBe('auth login succeeded true');
});
