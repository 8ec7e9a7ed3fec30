-- ============================================================================
-- api: reports, reminders and preferences (/reports/monthly, /reminders,
-- /account/preferences)
-- ============================================================================
-- Conventions as in sessions.sql. Everything here is the caller's own: no
-- id of another account is ever taken. The preferences live here rather than
-- in accounts.sql beside the other /account routes: they are the tracking
-- issue's (how often to be reminded, in which format the report comes), are
-- stored in schema tracking and are read with the reports, while accounts.sql
-- holds what auth.accounts is.

-- GET /reports/monthly?month=YYYY-MM&tz= : 200 {"month", "total_trackers",
-- "total_logs", "most_used_tracker", "frequent_emotional_state",
-- "logs_created_this_month", "logged_in"} (tracking.month_report) for the
-- local month in the IANA zone tz (default UTC); month defaults to the
-- current one there. A month that has not begun yet: 422.
CREATE OR REPLACE FUNCTION api.monthly_report(ctx request.context, month text, tz text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_tz text := tracking.time_zone(coalesce(monthly_report.tz, 'UTC'));
  v_month date;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  IF v_tz IS NOT NULL THEN
    v_month := coalesce(tracking.parse_month(monthly_report.month),
                        CASE WHEN monthly_report.month IS NULL THEN date_trunc('month', now() AT TIME ZONE v_tz)::date END);
  END IF;
  IF v_tz IS NULL OR v_month IS NULL OR v_month::timestamp AT TIME ZONE v_tz > now() THEN
    PERFORM response.raise(422, 'VALIDATION', 'some parameters are invalid', jsonb_strip_nulls(jsonb_build_object(
      'tz', CASE WHEN v_tz IS NULL THEN 'must be an IANA time zone, e.g. Europe/Berlin' END,
      'month', CASE WHEN v_tz IS NULL THEN NULL
                    WHEN v_month IS NULL THEN 'must be a month, YYYY-MM'
                    ELSE 'must not be in the future' END)));
  END IF;

  RETURN tracking.month_report(v_session.account_id, v_month, v_tz)::json;
END
$$;

-- GET /reminders?until= : 200 {"reminders": [...]}: the caller's logs with
-- an event_date on or before until (past-due ones included), soonest first
-- (then by logged_at and id), each the log JSON with "tracker": {id, name}.
-- until is a date (YYYY-MM-DD) or an RFC 3339 timestamp, whose date as
-- written counts (2026-05-01T23:00:00-05:00 is 2026-05-01); default: the
-- date (UTC) seven days from now.
CREATE OR REPLACE FUNCTION api.reminders(ctx request.context, until text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_until date;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_until := CASE WHEN reminders.until IS NULL THEN ((now() + interval '7 days') AT TIME ZONE 'UTC')::date
                  WHEN tracking.parse_timestamp(reminders.until) IS NOT NULL THEN tracking.parse_date(left(reminders.until, 10))
                  ELSE tracking.parse_date(reminders.until) END;
  IF v_until IS NULL THEN
    PERFORM response.raise(422, 'VALIDATION', 'some parameters are invalid',
                           '{"until": "must be a date, YYYY-MM-DD, or an RFC 3339 timestamp"}');
  END IF;

  RETURN json_build_object('reminders', tracking.reminders(v_session.account_id, NULL, v_until));
END
$$;

-- GET /account/preferences : 200 {"preferences": {notification,
-- report_format, timezone}}; the defaults (weekly, html, UTC) until the
-- first PUT.
CREATE OR REPLACE FUNCTION api.get_preferences(ctx request.context)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  RETURN json_build_object('preferences', tracking.preferences_json(v_session.account_id));
END
$$;

-- PUT /account/preferences {notification, report_format, timezone?} : 200
-- {"preferences"}; notification (daily, weekly or none) and report_format
-- (html, pdf or none: no monthly report mail) required, 422 otherwise;
-- timezone an IANA name (422 otherwise), when absent the one stored (UTC
-- at first): the zone of the report's month and the digests' mornings.
CREATE OR REPLACE FUNCTION api.set_preferences(ctx request.context, notification text, report_format text, timezone text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_zone text := tracking.time_zone(set_preferences.timezone);
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_problems := jsonb_strip_nulls(jsonb_build_object(
    'notification', CASE WHEN set_preferences.notification IS NULL THEN 'required'
                         WHEN NOT set_preferences.notification = ANY (tracking.notifications())
                         THEN 'must be one of ' || array_to_string(tracking.notifications(), ', ') END,
    'report_format', CASE WHEN set_preferences.report_format IS NULL THEN 'required'
                          WHEN NOT set_preferences.report_format = ANY (tracking.report_formats())
                          THEN 'must be one of ' || array_to_string(tracking.report_formats(), ', ') END,
    'timezone', CASE WHEN set_preferences.timezone IS NOT NULL AND v_zone IS NULL
                     THEN 'must be an IANA time zone, e.g. Europe/Berlin' END));
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  INSERT INTO tracking.preferences AS p (account_id, notification, report_format, timezone)
  VALUES (v_session.account_id, set_preferences.notification, set_preferences.report_format, coalesce(v_zone, 'UTC'))
  ON CONFLICT (account_id) DO UPDATE
     SET notification = excluded.notification, report_format = excluded.report_format,
         timezone = coalesce(v_zone, p.timezone), updated_at = now();
  RETURN json_build_object('preferences', tracking.preferences_json(v_session.account_id));
END
$$;
