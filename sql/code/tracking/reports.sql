-- ============================================================================
-- tracking: reports, reminders and preferences (tables:
-- sql/migrations/009_reports.sql; logins are auth.logins, written by api.login)
-- ============================================================================

-- The notification and report_format values a preference may take (the
-- CHECKs preferences_notification_known and preferences_report_format_known
-- say the same).
CREATE OR REPLACE FUNCTION tracking.notifications() RETURNS text[]
LANGUAGE sql IMMUTABLE
RETURN ARRAY['daily', 'weekly', 'none'];

CREATE OR REPLACE FUNCTION tracking.report_formats() RETURNS text[]
LANGUAGE sql IMMUTABLE
RETURN ARRAY['html', 'pdf', 'none'];

-- An account's preferences as they apply: its row, or the defaults
-- (weekly, html, UTC) when it has none (nothing is inserted at sign-up).
-- The one place the defaults are written: the routes, the report and the
-- digest runs read them here (a lateral call the planner inlines).
CREATE OR REPLACE FUNCTION tracking.account_preferences(account_id bigint)
RETURNS TABLE (notification text, report_format text, timezone text)
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT coalesce(p.notification, 'weekly'), coalesce(p.report_format, 'html'), coalesce(p.timezone, 'UTC')
    FROM (SELECT 1) one
    LEFT JOIN tracking.preferences p ON p.account_id = account_preferences.account_id;
END;

-- The preferences JSON of an account (tracking.account_preferences).
CREATE OR REPLACE FUNCTION tracking.preferences_json(account_id bigint) RETURNS json
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT json_build_object('notification', p.notification, 'report_format', p.report_format, 'timezone', p.timezone)
    FROM tracking.account_preferences(preferences_json.account_id) p;
END;

-- The reminders of an account: its logs with an event_date from from_date
-- (NULL: no lower bound, past-due ones included) to until_date, soonest
-- first (then by logged_at and id), at most max_count of them (NULL: all),
-- each the log JSON with "tracker": {id, name}; [] when none. Shared by GET
-- /reminders (api.reminders) and the reminder digests (mail.queue_digests).
CREATE OR REPLACE FUNCTION tracking.reminders(account_id bigint, from_date date, until_date date,
                                              max_count integer DEFAULT NULL)
RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT coalesce(jsonb_agg(r.log ORDER BY r.event_date, r.logged_at, r.id), '[]')
    FROM (SELECT tracking.log_json(l)::jsonb || jsonb_build_object('tracker', jsonb_build_object('id', t.id, 'name', t.name)) AS log,
                 l.event_date, l.logged_at, l.id
            FROM tracking.trackers t JOIN tracking.logs l ON l.tracker_id = t.id
           WHERE t.account_id = reminders.account_id AND l.event_date <= reminders.until_date
             AND (reminders.from_date IS NULL OR l.event_date >= reminders.from_date)
           ORDER BY l.event_date, l.logged_at, l.id
           LIMIT reminders.max_count) r;
END;

-- A month, YYYY-MM, as the local midnight of its first day; NULL unless
-- exactly that and a real month (0000-01 is not: there is no year 0).
CREATE OR REPLACE FUNCTION tracking.parse_month(value text) RETURNS date
LANGUAGE sql STABLE
RETURN CASE WHEN value ~ '^[0-9]{4}-[0-9]{2}$' THEN tracking.parse_date(value || '-01') END;

-- The monthly report of an account for the instants from <= t < to (one
-- local month): the seed's MonthlyTracker fields.
--   total_trackers           trackers that exist at the end of the month (created before to)
--   total_logs               logs logged (logged_at) in the month
--   most_used_tracker        {id, name, count}, the tracker with most logs logged in the month;
--                            ties: the most recently updated, then the highest id; null without logs
--   frequent_emotional_state the emotion of most logs logged in the month; ties: the one logged
--                            last, then the first of tracking.emotions(); null without emotions
--   logs_created_this_month  logs created (created_at) in the month, backfilled or not
--   logged_in                successful logins in the month (auth.logins, kept 13 months)
CREATE OR REPLACE FUNCTION tracking.monthly_report(account_id bigint, from_at timestamptz, to_at timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
  WITH mine AS (
    SELECT t.id, t.name, t.updated_at, t.created_at FROM tracking.trackers t
     WHERE t.account_id = monthly_report.account_id),
  logged AS (
    SELECT l.tracker_id, l.emotion, l.logged_at
      FROM mine m JOIN tracking.logs l ON l.tracker_id = m.id
     WHERE l.logged_at >= monthly_report.from_at AND l.logged_at < monthly_report.to_at)
  SELECT jsonb_build_object(
    'total_trackers', (SELECT count(*) FROM mine m WHERE m.created_at < monthly_report.to_at),
    'total_logs', (SELECT count(*) FROM logged),
    'most_used_tracker', (SELECT jsonb_build_object('id', m.id, 'name', m.name, 'count', c.n)
                            FROM (SELECT g.tracker_id, count(*) AS n FROM logged g GROUP BY g.tracker_id) c
                            JOIN mine m ON m.id = c.tracker_id
                           ORDER BY c.n DESC, m.updated_at DESC, m.id DESC
                           LIMIT 1),
    'frequent_emotional_state', (SELECT g.emotion FROM logged g WHERE g.emotion IS NOT NULL
                                  GROUP BY g.emotion
                                  ORDER BY count(*) DESC, max(g.logged_at) DESC,
                                           array_position(tracking.emotions(), g.emotion)
                                  LIMIT 1),
    'logs_created_this_month', (SELECT count(*) FROM mine m JOIN tracking.logs l ON l.tracker_id = m.id
                                 WHERE l.created_at >= monthly_report.from_at AND l.created_at < monthly_report.to_at),
    'logged_in', (SELECT count(*) FROM auth.logins x
                   WHERE x.account_id = monthly_report.account_id
                     AND x.logged_in_at >= monthly_report.from_at AND x.logged_in_at < monthly_report.to_at));
END;

-- The monthly report of an account for a local month (its first day) in an
-- IANA zone: {"month": "YYYY-MM"} and tracking.monthly_report's fields for
-- the instants of that month there. The one definition of the report:
-- api.monthly_report answers it, the report mail (mail.queue_report)
-- carries it.
CREATE OR REPLACE FUNCTION tracking.month_report(account_id bigint, month date, tz text) RETURNS jsonb
LANGUAGE sql STABLE
RETURN jsonb_build_object('month', to_char(month_report.month, 'YYYY-MM'))
       || tracking.monthly_report(month_report.account_id, month_report.month::timestamp AT TIME ZONE month_report.tz,
                                  (month_report.month + interval '1 month') AT TIME ZONE month_report.tz);

-- The logs of an account logged (logged_at, as total_logs counts them) on
-- each day of a local month (its first day) in an IANA zone: a JSON array
-- of counts, one per day, the 1st first; its sum is the report's
-- total_logs. The report mail's chart.
CREATE OR REPLACE FUNCTION tracking.logs_per_day(account_id bigint, month date, tz text) RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT jsonb_agg(coalesce(c.n, 0) ORDER BY d.day)
    FROM generate_series(logs_per_day.month::timestamp, logs_per_day.month + interval '1 month' - interval '1 day',
                         interval '1 day') AS d(day)
    LEFT JOIN (SELECT (l.logged_at AT TIME ZONE logs_per_day.tz)::date AS day, count(*) AS n
                 FROM tracking.trackers t JOIN tracking.logs l ON l.tracker_id = t.id
                WHERE t.account_id = logs_per_day.account_id
                  AND l.logged_at >= logs_per_day.month::timestamp AT TIME ZONE logs_per_day.tz
                  AND l.logged_at < (logs_per_day.month + interval '1 month') AT TIME ZONE logs_per_day.tz
                GROUP BY 1) c ON c.day = d.day::date;
END;
