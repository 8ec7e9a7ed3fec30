-- The monthly report mail (sql/code/mail_reports.sql; table mail.report_months,
-- sql/migrations/016_mail_reports.sql): queued once per account and month,
-- only for confirmed accounts whose report_format is html or pdf (html
-- without a preferences row), at the end of the month in the account's own
-- zone (the maintenance part due_reports) or by hand (scripts/db
-- send-reports: mail.queue_reports, which counts as that month's mail); the
-- row's data (the report route's fields, the logs per day, the format ...);
-- what the gateway role may call. The runs take `at` (now() by default) so
-- that the tests stand on the months' boundaries.
BEGIN;
SELECT plan(39);
\ir helpers.psql

-- The months (YYYY-MM) queued for an account, and its report mails.
CREATE FUNCTION pg_temp.months(who text) RETURNS text LANGUAGE sql AS $$
  SELECT coalesce(string_agg(to_char(m.month, 'YYYY-MM'), ' ' ORDER BY m.month), '')
    FROM mail.report_months m JOIN auth.accounts a ON a.id = m.account_id WHERE lower(a.username::text) = lower(who)
$$;
CREATE FUNCTION pg_temp.report(who text, month text) RETURNS mail.outbox LANGUAGE sql AS $$
  SELECT o.* FROM mail.outbox o JOIN auth.accounts a ON a.id = o.account_id
   WHERE lower(a.username::text) = lower(who) AND o.kind = 'monthly_report' AND o.data #>> '{report,month}' = month
$$;

-- ann: confirmed, no preferences row (html, UTC). bob: pdf, Europe/Berlin.
-- cid: report_format none. dan: html but unconfirmed. eve: html,
-- America/New_York. All made on 2026-02-03, so January is no month of
-- theirs; fay is made on 2026-03-05.
SELECT count(api.signup(pg_temp.ctx(ip => ('198.51.100.' || i)::inet), 'Tap19_' || n, 'tap19.' || lower(n) || '@example.com',
                        'tap19 password ' || i, CASE n WHEN 'Ann' THEN 'Ann <script>alert(1)</script>' END)) AS ignored
  FROM unnest(ARRAY['Ann', 'Bob', 'Cid', 'Dan', 'Eve', 'Fay']) WITH ORDINALITY AS x(n, i) \gset
UPDATE auth.accounts SET created_at = '2026-02-03T00:00Z', email_confirmed_at = '2026-02-03T01:00Z'
 WHERE username::text IN ('Tap19_Ann', 'Tap19_Bob', 'Tap19_Cid', 'Tap19_Eve');
UPDATE auth.accounts SET created_at = '2026-02-03T00:00Z' WHERE username::text = 'Tap19_Dan';
UPDATE auth.accounts SET created_at = '2026-03-05T00:00Z', email_confirmed_at = '2026-03-05T01:00Z' WHERE username::text = 'Tap19_Fay';
SELECT id AS ann FROM auth.accounts WHERE username::text = 'Tap19_Ann' \gset
SELECT id AS bob FROM auth.accounts WHERE username::text = 'Tap19_Bob' \gset
INSERT INTO tracking.preferences (account_id, notification, report_format, timezone)
SELECT a.id, 'none', p.format, p.tz
  FROM (VALUES ('Tap19_Bob', 'pdf', 'Europe/Berlin'), ('Tap19_Cid', 'none', 'UTC'), ('Tap19_Dan', 'html', 'UTC'),
               ('Tap19_Eve', 'html', 'America/New_York'), ('Tap19_Fay', 'html', 'UTC')) AS p(who, format, tz)
  JOIN auth.accounts a ON a.username::text = p.who;

-- ann's February 2026 (UTC): two logs on the 1st, one on the 14th, one in
-- the last minutes of the 28th; one in January and one in March.
INSERT INTO tracking.trackers (account_id, name, type, unit, what_to_track, created_at)
VALUES (:ann, 'Sleep', 'numerical', 'h', 'hours', '2026-02-03T00:00Z') RETURNING id AS sleep \gset
INSERT INTO tracking.trackers (account_id, name, type, created_at)
VALUES (:ann, '<script>alert(1)</script>', 'note', '2026-02-03T00:00Z') RETURNING id AS diary \gset
INSERT INTO tracking.logs (tracker_id, value, note, emotion, logged_at, created_at)
VALUES (:sleep, 7, '', 'calm', '2026-02-01T00:30Z', '2026-02-01T00:30Z'),
       (:diary, NULL, 'x', 'sad', '2026-02-01T10:00Z', '2026-02-01T10:00Z'),
       (:diary, NULL, 'y', 'sad', '2026-02-14T10:00Z', '2026-02-14T10:00Z'),
       (:diary, NULL, 'z', NULL, '2026-02-28T23:59Z', '2026-02-28T23:59Z'),
       (:sleep, 6, '', NULL, '2026-01-31T23:59Z', '2026-01-31T23:59Z'),
       (:sleep, 8, '', NULL, '2026-03-01T00:00Z', '2026-03-01T00:00Z');
-- bob's, in Berlin: 2026-01-31T23:30Z is the 1st of February there,
-- 2026-02-28T23:30Z the 1st of March.
INSERT INTO tracking.trackers (account_id, name, type, created_at)
VALUES (:bob, 'Ünïcødé ✓ 日本', 'note', '2026-02-03T00:00Z') RETURNING id AS bobs \gset
INSERT INTO tracking.logs (tracker_id, note, logged_at) VALUES (:bobs, 'a', '2026-01-31T23:30Z'), (:bobs, 'b', '2026-02-28T23:30Z');

-- ---------------------------------------------------------------------------
-- Due reports: the month before, once it has ended in the account's zone
-- ---------------------------------------------------------------------------
SELECT is(mail.queue_due_reports(100, '2026-02-28T22:59:59Z'), 0,
          'at 23:59:59 on 28 February in Berlin nothing is due: January ended before these accounts existed');
SELECT is(mail.queue_due_reports(100, '2026-02-28T23:00:00Z'), 1, 'at midnight in Berlin, one report is due ...');
SELECT is(pg_temp.months('tap19_bob'), '2026-02', '... bob''s February (Europe/Berlin)');
SELECT is(pg_temp.months('tap19_ann'), '', '... not ann''s: it is still 28 February in UTC');
SELECT is(mail.queue_due_reports(1, '2026-03-01T00:00:00Z'), 1, 'at midnight UTC a batch of one queues one ...');
SELECT is(mail.queue_due_reports(100, '2026-03-01T00:00:00Z'), 0, '... and nothing else is due: ann''s was that one');
SELECT is(pg_temp.months('tap19_ann'), '2026-02', 'ann (no preferences row: html, UTC) has February');
SELECT is(pg_temp.months('tap19_eve'), '', 'eve (America/New_York) not yet: it is 19:00 on 28 February there');
SELECT is(mail.queue_due_reports(100, '2026-03-01T04:59:59Z'), 0, '... nor at 23:59:59 there');
SELECT is(mail.queue_due_reports(100, '2026-03-01T05:00:00Z'), 1, 'at midnight in New York eve''s February is due');
SELECT is(mail.queue_due_reports(100, '2026-03-20T12:00:00Z'), 0, 'a later run queues no month twice');
SELECT is(pg_temp.months('tap19_cid') || '|' || pg_temp.months('tap19_dan') || '|' || pg_temp.months('tap19_fay'), '||',
          'none for report_format none, for an unconfirmed account, nor February for an account made in March');
SELECT is((SELECT count(*) FROM mail.outbox o JOIN auth.accounts a ON a.id = o.account_id
            WHERE a.username::text LIKE 'Tap19\_%' AND o.kind = 'monthly_report'), 3::bigint,
          'one outbox row per account and month');

-- ---------------------------------------------------------------------------
-- The row: what the templates need
-- ---------------------------------------------------------------------------
SELECT is((SELECT jsonb_build_object('recipient', recipient::text, 'dedupe_key', dedupe_key)
             FROM pg_temp.report('tap19_ann', '2026-02')),
          jsonb_build_object('recipient', 'tap19.ann@example.com', 'dedupe_key', 'report:' || :ann || ':2026-02'),
          'ann''s mail: to her address, dedupe key report:<account>:<YYYY-MM>');
SELECT is((SELECT array_agg(k ORDER BY k) FROM pg_temp.report('tap19_ann', '2026-02') r, jsonb_object_keys(r.data) k),
          ARRAY['complete', 'days', 'display_name', 'format', 'report', 'timezone', 'unsubscribe', 'username'],
          'its data: the report, the days, the format, the zone, the names, complete, unsubscribe');
SELECT is((SELECT data - 'report' - 'days' FROM pg_temp.report('tap19_ann', '2026-02')),
          '{"format": "html", "timezone": "UTC", "username": "Tap19_Ann", "display_name": "Ann <script>alert(1)</script>",
            "complete": true, "unsubscribe": "report"}'::jsonb,
          '... html, UTC, the names as typed, a complete month, "unsubscribe": "report"');
SELECT api.login(pg_temp.ctx(browser => 'UA-19', ip => '198.51.100.1'), 'tap19_ann', 'tap19 password 1') ->> 'token' AS ann_s \gset
SELECT is((SELECT data -> 'report' FROM pg_temp.report('tap19_ann', '2026-02')),
          api.monthly_report(pg_temp.ctx(:'ann_s', 'UA-19'), '2026-02', 'UTC')::jsonb,
          '"report" is exactly what GET /reports/monthly?month=2026-02&tz=UTC answers');
SELECT is((SELECT data -> 'report' FROM pg_temp.report('tap19_ann', '2026-02')),
          jsonb_build_object('month', '2026-02', 'total_trackers', 2, 'total_logs', 4,
                             'most_used_tracker', jsonb_build_object('id', :diary, 'name', '<script>alert(1)</script>', 'count', 3),
                             'frequent_emotional_state', 'sad', 'logs_created_this_month', 4, 'logged_in', 0),
          '... its numbers');
SELECT is((SELECT data -> 'days' FROM pg_temp.report('tap19_ann', '2026-02')),
          '[2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]'::jsonb,
          '"days": the logs of each day of February in UTC, 28 of them');
SELECT is((SELECT data -> 'days' FROM pg_temp.report('tap19_bob', '2026-02')),
          '[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]'::jsonb,
          'bob''s days are Berlin''s: 23:30 UTC on 31 January is his 1st of February, 23:30 on the 28th his 1st of March');
SELECT is((SELECT (data ->> 'format') || ' ' || (data ->> 'timezone') || ' ' || (data #>> '{report,total_logs}')
             FROM pg_temp.report('tap19_bob', '2026-02')),
          'pdf Europe/Berlin 1', '... a pdf report, in his zone');
SELECT is(tracking.logs_per_day(:ann, '2026-03-01', 'UTC') -> 0, '1'::jsonb, 'March has 31 days, the 1st first ...');
SELECT is(jsonb_array_length(tracking.logs_per_day(:ann, '2026-03-01', 'UTC')), 31, '... 31 of them');

-- ---------------------------------------------------------------------------
-- By hand (scripts/db send-reports): a month now, counting as its mail
-- ---------------------------------------------------------------------------
SELECT mail.queue_reports('2026-03-01', '2026-02-28T23:30:00Z') AS ignored \gset
SELECT is(pg_temp.months('tap19_bob') || '|' || pg_temp.months('tap19_ann'), '2026-02 2026-03|2026-02',
          'March by hand at 00:30 in Berlin: bob''s March so far; not ann''s, whose March has not begun');
SELECT is((SELECT data -> 'complete' FROM pg_temp.report('tap19_bob', '2026-03')), 'false'::jsonb,
          '... a report so far: "complete": false');
SELECT mail.queue_reports(NULL, '2026-03-10T12:00:00Z') AS ignored \gset
SELECT is(pg_temp.months('tap19_ann') || '|' || pg_temp.months('tap19_eve') || '|' || pg_temp.months('tap19_fay'),
          '2026-02 2026-03|2026-02 2026-03|2026-03', 'no month: the current one in each zone, for every account that gets reports');
SELECT is(pg_temp.months('tap19_cid') || '|' || pg_temp.months('tap19_dan'), '|', '... not for none, nor unconfirmed');
SELECT is(mail.queue_due_reports(100, '2026-04-01T12:00:00Z'), 0,
          'when March ends, nothing is due: the by-hand run was March''s mail');
SELECT is(mail.queue_reports(NULL, '2026-03-11T12:00:00Z'), 0, 'by hand again: nothing (once per account and month)');
SELECT mail.queue_reports('2026-02-01', '2026-03-11T12:00:00Z') AS ignored \gset
SELECT is(pg_temp.months('tap19_fay'), '2026-02 2026-03', 'a past month by hand: fay''s February (by hand is as asked)');
SELECT is(mail.queue_report(:ann, '2026-02-01'), NULL, 'mail.queue_report of a month already queued: NULL');
UPDATE auth.accounts SET disabled_at = now() WHERE id = :bob;
SELECT is(mail.queue_report(:bob, '2026-01-01'), NULL, 'a disabled account gets no report (as it gets no digest)');
UPDATE auth.accounts SET disabled_at = NULL WHERE id = :bob;

-- A change of format takes effect at the next month.
UPDATE tracking.preferences SET report_format = 'none' WHERE account_id = (SELECT id FROM auth.accounts WHERE username::text = 'Tap19_Eve');
SELECT is(mail.queue_due_reports(100, '2026-05-01T12:00:00Z'), 3, 'April''s run: ann, bob, fay (html or pdf) ...');
SELECT is(pg_temp.months('tap19_eve'), '2026-02 2026-03', '... not eve, who turned the report off');

-- ---------------------------------------------------------------------------
-- Who may call what
-- ---------------------------------------------------------------------------
SELECT api.maintenance('due_reports') AS due \gset
SELECT is(pg_temp.months('tap19_ann') ~ to_char(date_trunc('month', now() AT TIME ZONE 'UTC') - interval '1 month', 'YYYY-MM'), true,
          'api.maintenance(''due_reports'') queues the reports due now (ann''s last month)');
SET LOCAL ROLE gateway;
SELECT is((api.maintenance('due_reports')::jsonb - 'deleted'), '{"skipped": false, "part": "due_reports", "more": false}'::jsonb,
          'the gateway runs the part on its maintenance timer: nothing more is due');
SELECT throws_ok($$SELECT mail.queue_reports()$$, '42501', NULL, 'the gateway cannot queue reports by hand');
SELECT throws_ok($$SELECT mail.queue_due_reports(10)$$, '42501', NULL, '... nor call the due run but through api.maintenance');
SELECT throws_ok($$SELECT tracking.month_report(1, '2026-01-01', 'UTC')$$, '42501', NULL, '... nor compute any account''s report');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
