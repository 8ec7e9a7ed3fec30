-- Reports, reminders and preferences (sql/code/api/reports.sql,
-- sql/code/tracking/reports.sql), the tables of sql/migrations/009_reports.sql,
-- the login record api.login writes and its clean-up by api.maintenance.
-- api functions are called as the gateway role with pg_temp.ctx
-- (helpers.psql); known data is written behind the API's back as the
-- superuser (RESET ROLE), with the created_at of a backfill.
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(73);

\ir helpers.psql

-- Two accounts with a session each: Ivy owns the data, Jon is the other account.
INSERT INTO auth.accounts (username, email, password_hash)
VALUES ('tap12_ivy', 'tap12.ivy@example.com', auth.dummy_password_hash()),
       ('tap12_jon', 'tap12.jon@example.com', auth.dummy_password_hash());
SELECT id AS ivy FROM auth.accounts WHERE username = 'tap12_ivy' \gset
SELECT id AS jon FROM auth.accounts WHERE username = 'tap12_jon' \gset
SELECT auth.create_account_session('tap12_ivy', 'UA-Ivy', '192.0.2.12') AS ivy_tok \gset
SELECT auth.create_account_session('tap12_jon', 'UA-Jon', '192.0.2.12') AS jon_tok \gset

CREATE FUNCTION pg_temp.ivy() RETURNS request.context LANGUAGE sql IMMUTABLE SECURITY DEFINER
RETURN request.context(token => :'ivy_tok', browser => 'UA-Ivy');
CREATE FUNCTION pg_temp.jon() RETURNS request.context LANGUAGE sql IMMUTABLE SECURITY DEFINER
RETURN request.context(token => :'jon_tok', browser => 'UA-Jon');
-- The details of the 422 a call raises.
CREATE FUNCTION pg_temp.details(q text) RETURNS jsonb LANGUAGE sql
RETURN pg_temp.error_of(q) #> '{detail,details}';

-- ----------------------------------------------------------------------------
-- Privileges
-- ----------------------------------------------------------------------------
SELECT ok(has_function_privilege('gateway', p.oid, 'EXECUTE'), format('the gateway may execute %s', p.oid::regprocedure))
  FROM pg_proc p
 WHERE p.oid IN ('api.monthly_report(request.context, text, text)'::regprocedure,
                 'api.reminders(request.context, text)'::regprocedure,
                 'api.get_preferences(request.context)'::regprocedure,
                 'api.set_preferences(request.context, text, text, text)'::regprocedure)
 ORDER BY p.proname;
SELECT ok(p.prosecdef, format('%s is SECURITY DEFINER', p.oid::regprocedure))
  FROM pg_proc p
 WHERE p.pronamespace = 'api'::regnamespace AND p.proname IN ('monthly_report', 'reminders', 'get_preferences', 'set_preferences')
 ORDER BY p.proname;
SELECT ok(NOT has_table_privilege('gateway', t, 'SELECT,INSERT,UPDATE,DELETE'), format('the gateway has no privilege on %s', t))
  FROM unnest(ARRAY['tracking.preferences', 'auth.logins']) t;
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'tracking' AND has_function_privilege('gateway', p.oid, 'EXECUTE')
$$, 'the gateway may execute no function of schema tracking');

SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT count(*) FROM auth.logins$$, '42501', NULL, 'as the gateway, reading auth.logins is refused');

-- (Every route checks the token first: 17_session_checks.sql.)

-- ----------------------------------------------------------------------------
-- Preferences: defaults before the first PUT; both required; the known values only
-- ----------------------------------------------------------------------------
SELECT is(api.get_preferences(pg_temp.ivy())::jsonb, '{"preferences": {"notification": "weekly", "report_format": "html", "timezone": "UTC"}}',
          'before the first PUT, the defaults: weekly, html, UTC');
SELECT is(api.set_preferences(pg_temp.ivy(), 'daily', 'pdf', NULL)::jsonb,
          '{"preferences": {"notification": "daily", "report_format": "pdf", "timezone": "UTC"}}',
          'set_preferences answers what it set (no time zone given: UTC)');
SELECT is(api.get_preferences(pg_temp.ivy())::jsonb, '{"preferences": {"notification": "daily", "report_format": "pdf", "timezone": "UTC"}}',
          'get_preferences reads them back');
SELECT is(api.set_preferences(pg_temp.ivy(), 'weekly', 'none', 'Europe/Berlin')::jsonb,
          '{"preferences": {"notification": "weekly", "report_format": "none", "timezone": "Europe/Berlin"}}',
          'report_format none (no report mail) and a time zone');
SELECT is(api.set_preferences(pg_temp.ivy(), 'none', 'html', NULL)::jsonb,
          '{"preferences": {"notification": "none", "report_format": "html", "timezone": "Europe/Berlin"}}',
          'a second PUT replaces both and keeps the time zone it does not name');
SELECT is(api.get_preferences(pg_temp.jon())::jsonb, '{"preferences": {"notification": "weekly", "report_format": "html", "timezone": "UTC"}}',
          'another account still has the defaults');
SELECT throws_ok($$SELECT api.set_preferences(pg_temp.ivy(), NULL, NULL, NULL)$$, 'PT422', 'some fields are invalid',
                 'set_preferences without fields raises PT422');
SELECT is(pg_temp.details($$SELECT api.set_preferences(pg_temp.ivy(), NULL, NULL, NULL)$$),
          '{"notification": "required", "report_format": "required"}', '... notification and report_format are required');
SELECT is(pg_temp.details(format('SELECT api.set_preferences(pg_temp.ivy(), %L, %L, %L)', n, f, z)),
          '{"notification": "must be one of daily, weekly, none", "report_format": "must be one of html, pdf, none", "timezone": "must be an IANA time zone, e.g. Europe/Berlin"}',
          format('notification %L, report_format %L and timezone %L are refused', n, f, z))
  FROM (VALUES ('hourly', 'doc', 'Mars/Olympus'), ('Daily', 'PDF', 'CET-1CEST'), ('', '', ''), (' weekly', 'html ', 'PST')) v (n, f, z);
SELECT is(api.get_preferences(pg_temp.ivy())::jsonb, '{"preferences": {"notification": "none", "report_format": "html", "timezone": "Europe/Berlin"}}',
          'a refused PUT changes nothing');
RESET ROLE;
SELECT throws_ok(format($$INSERT INTO tracking.preferences (account_id, notification) VALUES (%s, 'monthly')$$, :jon),
                 '23514', NULL, 'the table refuses an unknown notification too');
SELECT throws_ok(format($$INSERT INTO tracking.preferences (account_id, report_format) VALUES (%s, 'txt')$$, :jon),
                 '23514', NULL, '... and an unknown report format');

-- ----------------------------------------------------------------------------
-- Known data for March 2026. In Europe/Berlin (UTC+1 then, UTC+2 from
-- 29 March) the month runs from 2026-02-28T23:00Z to 2026-03-31T22:00Z.
-- ----------------------------------------------------------------------------
INSERT INTO tracking.trackers (account_id, name, type, created_at)
VALUES (:ivy, 'Sleep', 'numerical', '2026-02-01T08:00Z'), (:ivy, 'Diary', 'note', '2026-03-10T08:00Z'),
       (:ivy, 'Walks', 'numerical', '2026-04-05T08:00Z'), (:jon, 'Jon''s', 'note', '2026-03-01T08:00Z');
SELECT id AS sleep FROM tracking.trackers WHERE account_id = :ivy AND name = 'Sleep' \gset
SELECT id AS diary FROM tracking.trackers WHERE account_id = :ivy AND name = 'Diary' \gset
SELECT id AS jons FROM tracking.trackers WHERE account_id = :jon \gset
INSERT INTO tracking.logs (tracker_id, value, emotion, logged_at, created_at, event_date, event_reminder_msg)
VALUES (:sleep, 7, 'calm', '2026-03-05T10:00Z', '2026-03-05T10:00Z', '2026-03-07', 'Doctor'),
       (:sleep, 8, 'calm', '2026-03-06T10:00Z', '2026-03-06T10:00Z', NULL, NULL),
       -- 1 March in Berlin, 28 February in UTC
       (:sleep, 6, 'sad', '2026-02-28T23:30Z', '2026-02-28T23:30Z', NULL, NULL),
       -- backfilled in March: logged in February and in January
       (:sleep, 5, NULL, '2026-02-10T10:00Z', '2026-03-03T10:00Z', NULL, NULL),
       (:sleep, 5, 'happy', '2026-01-20T10:00Z', '2026-03-20T10:00Z', NULL, NULL),
       (:diary, NULL, 'sad', '2026-03-10T10:00Z', '2026-03-10T10:00Z', current_date + 3, 'Call mum'),
       -- logged in March, backfilled in April
       (:diary, NULL, NULL, '2026-03-15T10:00Z', '2026-04-02T10:00Z', current_date + 10, NULL),
       -- 1 April in Berlin, 31 March in UTC
       (:diary, NULL, 'sad', '2026-03-31T22:30Z', '2026-03-31T22:30Z', NULL, NULL),
       (:jons, NULL, 'angry', '2026-03-12T10:00Z', '2026-03-12T10:00Z', current_date, 'Jon''s');
INSERT INTO auth.logins (account_id, logged_in_at)
VALUES (:ivy, '2026-02-28T23:30Z'), (:ivy, '2026-03-01T10:00Z'), (:ivy, '2026-03-20T10:00Z'), (:ivy, '2026-03-31T22:30Z'),
       (:ivy, '2026-04-01T00:00Z'), (:jon, '2026-03-12T10:00Z');

-- ----------------------------------------------------------------------------
-- api.monthly_report
-- ----------------------------------------------------------------------------
SET LOCAL ROLE gateway;
SELECT is(api.monthly_report(pg_temp.ivy(), '2026-03', 'Europe/Berlin')::jsonb,
          jsonb_build_object('month', '2026-03', 'total_trackers', 2, 'total_logs', 5,
                             'most_used_tracker', jsonb_build_object('id', :sleep, 'name', 'Sleep', 'count', 3),
                             'frequent_emotional_state', 'sad', 'logs_created_this_month', 6, 'logged_in', 3),
          'March in Berlin: the trackers of its end, its logs, Sleep most used, sad (2, logged last) over calm (2), '
          'backfilled logs by created_at, its logins');
SELECT is(api.monthly_report(pg_temp.ivy(), '2026-03', 'UTC')::jsonb,
          jsonb_build_object('month', '2026-03', 'total_trackers', 2, 'total_logs', 5,
                             'most_used_tracker', jsonb_build_object('id', :diary, 'name', 'Diary', 'count', 3),
                             'frequent_emotional_state', 'sad', 'logs_created_this_month', 6, 'logged_in', 3),
          'March in UTC: the zone moves the logs at the month''s edges (Diary most used now)');
SELECT is(api.monthly_report(pg_temp.ivy(), '2026-03', NULL)::jsonb, api.monthly_report(pg_temp.ivy(), '2026-03', 'UTC')::jsonb,
          'tz defaults to UTC');
SELECT is(api.monthly_report(pg_temp.ivy(), '2026-04', 'Europe/Berlin')::jsonb,
          jsonb_build_object('month', '2026-04', 'total_trackers', 3, 'total_logs', 1,
                             'most_used_tracker', jsonb_build_object('id', :diary, 'name', 'Diary', 'count', 1),
                             'frequent_emotional_state', 'sad', 'logs_created_this_month', 2, 'logged_in', 2),
          'April in Berlin: a tracker created in April counts, the log backfilled in April');
SELECT is(api.monthly_report(pg_temp.jon(), '2025-06', 'UTC')::jsonb,
          '{"month": "2025-06", "total_trackers": 0, "total_logs": 0, "most_used_tracker": null,
            "frequent_emotional_state": null, "logs_created_this_month": 0, "logged_in": 0}',
          'a month without anything: zeros and nulls');
SELECT is(api.monthly_report(pg_temp.jon(), '2026-03', 'UTC')::jsonb,
          jsonb_build_object('month', '2026-03', 'total_trackers', 1, 'total_logs', 1,
                             'most_used_tracker', jsonb_build_object('id', :jons, 'name', 'Jon''s', 'count', 1),
                             'frequent_emotional_state', 'angry', 'logs_created_this_month', 1, 'logged_in', 1),
          'another account''s report counts its own data only');
SELECT is(api.monthly_report(pg_temp.ivy(), NULL, 'Pacific/Kiritimati')::jsonb ->> 'month',
          to_char(now() AT TIME ZONE 'Pacific/Kiritimati', 'YYYY-MM'), 'month defaults to the current one in the zone');
SELECT lives_ok(format('SELECT api.monthly_report(pg_temp.ivy(), %L, %L)', to_char(now() AT TIME ZONE 'Pacific/Kiritimati', 'YYYY-MM'),
                       'Pacific/Kiritimati'), 'the current month, where it has begun, is taken');
SELECT throws_ok(format('SELECT api.monthly_report(pg_temp.ivy(), %L, NULL)', to_char(now() + interval '1 month', 'YYYY-MM')),
                 'PT422', 'some parameters are invalid', 'a month in the future raises PT422');
SELECT is(pg_temp.details(format('SELECT api.monthly_report(pg_temp.ivy(), %L, NULL)', to_char(now() + interval '1 month', 'YYYY-MM'))),
          '{"month": "must not be in the future"}', '... month: must not be in the future');
SELECT is(pg_temp.details(format('SELECT api.monthly_report(pg_temp.ivy(), %L, NULL)', m)),
          '{"month": "must be a month, YYYY-MM"}', format('month %L is refused', m))
  FROM unnest(ARRAY['2026-3', '2026-13', '2026-00', '0000-01', '2026-03-01', 'march', '']) m;
SELECT is(pg_temp.details(format('SELECT api.monthly_report(pg_temp.ivy(), ''2026-03'', %L)', z)),
          '{"tz": "must be an IANA time zone, e.g. Europe/Berlin"}', format('tz %L is refused', z))
  FROM unnest(ARRAY['Mars/Olympus', 'PST', 'UTC+5', 'europe/berlin', '']) z;

-- Ties for the most used tracker go to the most recently updated one.
RESET ROLE;
INSERT INTO tracking.logs (tracker_id, value, logged_at) VALUES (:sleep, 1, '2025-11-03T10:00Z');
INSERT INTO tracking.logs (tracker_id, logged_at) VALUES (:diary, '2025-11-04T10:00Z');
ALTER TABLE tracking.trackers DISABLE TRIGGER trackers_before_update;
UPDATE tracking.trackers SET updated_at = now() + interval '1 minute' WHERE id = :sleep;
ALTER TABLE tracking.trackers ENABLE TRIGGER trackers_before_update;
SET LOCAL ROLE gateway;
SELECT is(api.monthly_report(pg_temp.ivy(), '2025-11', 'UTC')::jsonb -> 'most_used_tracker',
          jsonb_build_object('id', :sleep, 'name', 'Sleep', 'count', 1), 'a tie goes to the tracker updated last');
SELECT is(api.monthly_report(pg_temp.ivy(), '2025-11', 'UTC')::jsonb -> 'frequent_emotional_state', 'null',
          'logs without an emotion: frequent_emotional_state is null');

-- ----------------------------------------------------------------------------
-- api.login records each success in auth.logins, counted by the report
-- ----------------------------------------------------------------------------
SELECT api.signup(pg_temp.ctx(), 'tap12_kim', 'tap12.kim@example.com', 'kim password 1', NULL) AS kim_signup \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Kim', ip => '203.0.113.12'), 'tap12_kim', 'kim password 1') ->> 'token' AS kim_tok \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Kim', ip => '203.0.113.12'), 'tap12_kim', 'kim password 1') ->> 'token' AS kim_tok \gset
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Kim', ip => '203.0.113.12'), 'tap12_kim', 'wrong')$$),
          '401 INVALID_CREDENTIALS', 'a wrong password fails');
SELECT is((api.monthly_report(pg_temp.ctx(token => :'kim_tok', browser => 'UA-Kim'), NULL, NULL)::jsonb ->> 'logged_in')::int, 2,
          'the report counts both successful logins of this month, not the failed one');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM auth.logins l JOIN auth.accounts a ON a.id = l.account_id WHERE a.username = 'tap12_kim'), 2,
          'api.login wrote one auth.logins row per success');

-- ----------------------------------------------------------------------------
-- api.reminders: logs with an event_date due by until, soonest first
-- ----------------------------------------------------------------------------
SET LOCAL ROLE gateway;
SELECT api.reminders(pg_temp.ivy(), NULL) AS rem \gset
SELECT is((SELECT array_agg(x ->> 'event_date' ORDER BY i) FROM jsonb_array_elements(:'rem'::jsonb -> 'reminders') WITH ORDINALITY e (x, i)),
          ARRAY['2026-03-07', to_char(current_date + 3, 'YYYY-MM-DD')],
          'by default: due within 7 days, past-due ones included, soonest first');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'rem'::jsonb #> '{reminders,0}') k),
          ARRAY['created_at', 'emotion', 'event_date', 'event_reminder_msg', 'id', 'logged_at', 'note', 'tracker', 'tracker_id',
                'updated_at', 'value'], 'a reminder is the log JSON with its tracker');
SELECT is(:'rem'::jsonb #> '{reminders,0,tracker}', jsonb_build_object('id', :sleep, 'name', 'Sleep'), '... its id and name');
SELECT is(:'rem'::jsonb #>> '{reminders,1,event_reminder_msg}', 'Call mum', '... and its message');
SELECT is(jsonb_array_length(api.reminders(pg_temp.ivy(), to_char(current_date + 10, 'YYYY-MM-DD'))::jsonb -> 'reminders'), 3,
          'until a date includes that day');
SELECT is(jsonb_array_length(api.reminders(pg_temp.ivy(), to_char(current_date + 9, 'YYYY-MM-DD'))::jsonb -> 'reminders'), 2,
          '... and not the day after');
SELECT is(jsonb_array_length(api.reminders(pg_temp.ivy(), to_char(current_date + 10, 'YYYY-MM-DD') || 'T23:00:00-05:00')::jsonb
                             -> 'reminders'), 3, 'until a timestamp counts its date as written');
SELECT is(api.reminders(pg_temp.ivy(), '2026-03-01')::jsonb, '{"reminders": []}', 'nothing due: an empty list');
SELECT is((SELECT array_agg(x ->> 'event_reminder_msg') FROM jsonb_array_elements(api.reminders(pg_temp.jon(), NULL)::jsonb -> 'reminders') x),
          ARRAY['Jon''s'], 'another account sees its own reminders only');
SELECT throws_ok($$SELECT api.reminders(pg_temp.ivy(), 'tomorrow')$$, 'PT422', 'some parameters are invalid',
                 'a malformed until raises PT422');
SELECT is(pg_temp.details(format('SELECT api.reminders(pg_temp.ivy(), %L)', u)),
          '{"until": "must be a date, YYYY-MM-DD, or an RFC 3339 timestamp"}', format('until %L is refused', u))
  FROM unnest(ARRAY['2026-02-30', '2026-03-01T25:00:00Z', '2026-03-01T10:00:00', '']) u;

-- ----------------------------------------------------------------------------
-- api.maintenance deletes logins older than 13 months, in batches
-- ----------------------------------------------------------------------------
RESET ROLE;
INSERT INTO auth.logins (account_id, logged_in_at)
VALUES (:jon, now() - interval '13 months 1 day'), (:jon, now() - interval '14 months'), (:jon, now() - interval '12 months');
SET LOCAL ROLE gateway;
SELECT is((api.maintenance('old_logins', batch_size => 1)::jsonb ->> 'deleted')::int, 1, 'a round deletes at most batch_size old logins');
SELECT is((api.maintenance('old_logins')::jsonb ->> 'deleted')::int, 1, 'the next round the rest');
RESET ROLE;
SELECT is((SELECT count(*)::int FROM auth.logins WHERE account_id = :jon AND logged_in_at < '2026-01-01'), 1,
          'a login younger than 13 months is kept');

-- ----------------------------------------------------------------------------
-- Deleting an account deletes its preferences and logins
-- ----------------------------------------------------------------------------
DELETE FROM auth.accounts WHERE id = :ivy;
SELECT is((SELECT count(*)::int FROM tracking.preferences WHERE account_id = :ivy), 0, 'the account''s preferences are gone');
SELECT is((SELECT count(*)::int FROM auth.logins WHERE account_id = :ivy), 0, '... and its logins');

SELECT * FROM finish();
ROLLBACK;
