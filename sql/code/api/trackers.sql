-- ============================================================================
-- api: trackers and logs (/trackers, /trackers/{id}, /trackers/{id}/logs,
-- /trackers/{id}/logs/{log_id}, /trackers/{id}/series)
-- ============================================================================
-- Conventions as in sessions.sql. Everything here is private: a tracker, or
-- a log, of another account answers 404 NOT_FOUND exactly as one that does
-- not exist (tracking.own_tracker), and that check comes before any other
-- about the request. Absent (or null) fields of a PATCH are left alone; an
-- empty string clears unit, what_to_track, emotion, event_reminder_msg and
-- event_date (description and note: empties them). updated_at is kept by
-- triggers (sql/migrations/008_trackers.sql), also a tracker's when one of
-- its logs is added, changed or deleted.

-- GET /trackers : 200 {"trackers": [...]}, most recently updated first, each
-- with log_count and last_logged_at.
CREATE OR REPLACE FUNCTION api.list_trackers(ctx request.context)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  RETURN json_build_object('trackers', coalesce(
    (SELECT json_agg(tracking.tracker_json(t) ORDER BY t.updated_at DESC, t.id DESC)
       FROM tracking.trackers t
      WHERE t.account_id = v_session.account_id),
    '[]'));
END
$$;

-- POST /trackers {name, description?, type, unit?, what_to_track?} : 201
-- {"tracker"}; 409 CONFLICT if the account has a tracker of that name
-- (ignoring case); unit and what_to_track only for a numerical tracker.
CREATE OR REPLACE FUNCTION api.create_tracker(ctx request.context, name text, description text, type text, unit text,
                                              what_to_track text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_tracker tracking.trackers;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_problems := jsonb_strip_nulls(jsonb_build_object(
                  'name', CASE WHEN create_tracker.name IS NULL THEN 'required' END,
                  'type', CASE WHEN create_tracker.type IS NULL THEN 'required' END))
                || tracking.tracker_problems(create_tracker.type, create_tracker.name, create_tracker.description,
                                             create_tracker.unit, create_tracker.what_to_track);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  BEGIN
    INSERT INTO tracking.trackers (account_id, name, description, type, unit, what_to_track)
    VALUES (v_session.account_id, create_tracker.name, coalesce(create_tracker.description, ''), create_tracker.type,
            nullif(create_tracker.unit, ''), nullif(create_tracker.what_to_track, ''))
    RETURNING * INTO v_tracker;
  EXCEPTION WHEN unique_violation THEN
    PERFORM response.raise(409, 'CONFLICT', 'you have a tracker of that name', '{"name": "is taken"}');
  END;
  RETURN json_build_object('tracker', tracking.tracker_json(v_tracker));
END
$$;

-- GET /trackers/{id} : 200 {"tracker"}; 404 unless the caller's.
CREATE OR REPLACE FUNCTION api.get_tracker(ctx request.context, id bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  RETURN json_build_object('tracker', tracking.tracker_json(tracking.own_tracker(v_session.account_id, get_tracker.id)));
END
$$;

-- PATCH /trackers/{id} {name?, description?, unit?, what_to_track?} : 200
-- {"tracker"}; 404 unless the caller's; the type is fixed at creation.
CREATE OR REPLACE FUNCTION api.update_tracker(ctx request.context, id bigint, name text, description text, unit text,
                                              what_to_track text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_tracker tracking.trackers;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_tracker := tracking.own_tracker(v_session.account_id, update_tracker.id);
  v_problems := tracking.tracker_problems(v_tracker.type, update_tracker.name, update_tracker.description,
                                          update_tracker.unit, update_tracker.what_to_track);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  BEGIN
    UPDATE tracking.trackers t
       SET name = coalesce(update_tracker.name, t.name),
           description = coalesce(update_tracker.description, t.description),
           unit = CASE WHEN update_tracker.unit IS NULL THEN t.unit ELSE nullif(update_tracker.unit, '') END,
           what_to_track = CASE WHEN update_tracker.what_to_track IS NULL THEN t.what_to_track
                                ELSE nullif(update_tracker.what_to_track, '') END
     WHERE t.id = v_tracker.id
    RETURNING * INTO v_tracker;
  EXCEPTION WHEN unique_violation THEN
    PERFORM response.raise(409, 'CONFLICT', 'you have a tracker of that name', '{"name": "is taken"}');
  END;
  RETURN json_build_object('tracker', tracking.tracker_json(v_tracker));
END
$$;

-- DELETE /trackers/{id} : 204, with its logs; 404 unless the caller's.
CREATE OR REPLACE FUNCTION api.delete_tracker(ctx request.context, id bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  DELETE FROM tracking.trackers t WHERE t.id = delete_tracker.id AND t.account_id = v_session.account_id;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such tracker');
  END IF;
  RETURN NULL;
END
$$;

-- GET /trackers/{id}/logs?from=&to=&before=&limit= : 200 {"logs": [...],
-- "next"}; 404 unless the caller's tracker. from and to (RFC 3339) bound
-- logged_at, from inclusive, to exclusive. Newest first by (logged_at, id);
-- before is the "next" cursor of the previous page (response.cursor, list 'tracker_logs'), limit
-- is 1–100, default 20. The index (tracker_id, logged_at DESC, id DESC)
-- serves any page and range.
CREATE OR REPLACE FUNCTION api.list_tracker_logs(ctx request.context, id bigint, from_at text, to_at text, before text,
                                                 row_limit bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_tracker tracking.trackers;
  v_limit integer;
  v_from timestamptz;
  v_to timestamptz;
  v_problems jsonb;
  v_at timestamptz;
  v_key_id bigint;
  v_logs json;
  v_next text;
  v_more boolean;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_tracker := tracking.own_tracker(v_session.account_id, list_tracker_logs.id);
  v_limit := response.page_limit(row_limit);
  v_from := tracking.parse_timestamp(from_at);
  v_to := tracking.parse_timestamp(to_at);
  v_problems := jsonb_strip_nulls(jsonb_build_object(
    'from', CASE WHEN from_at IS NOT NULL AND v_from IS NULL
                 THEN 'must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z' END,
    'to', CASE WHEN to_at IS NOT NULL AND v_to IS NULL
               THEN 'must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z' END));
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some parameters are invalid', v_problems);
  END IF;
  SELECT c.at, c.id INTO v_at, v_key_id FROM response.uncursor_id('tracker_logs', before) c;

  -- One row more than the page tells whether there is a next page.
  WITH page AS (
    SELECT l AS log, l.logged_at, l.id
      FROM tracking.logs l
     WHERE l.tracker_id = v_tracker.id
       AND (v_from IS NULL OR l.logged_at >= v_from)
       AND (v_to IS NULL OR l.logged_at < v_to)
       AND (v_key_id IS NULL OR (l.logged_at, l.id) < (v_at, v_key_id))
     ORDER BY l.logged_at DESC, l.id DESC
     LIMIT v_limit + 1)
  SELECT coalesce(json_agg(tracking.log_json(p.log) ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'),
         max(response.cursor('tracker_logs', p.logged_at, p.id::text)) FILTER (WHERE p.rn = v_limit),
         count(*) > v_limit
    INTO v_logs, v_next, v_more
    FROM (SELECT page.*, row_number() OVER (ORDER BY page.logged_at DESC, page.id DESC) AS rn FROM page) p;

  RETURN json_build_object('logs', v_logs, 'next', CASE WHEN v_more THEN v_next END);
END
$$;

-- POST /trackers/{id}/logs {value?, note?, emotion?, event_reminder_msg?,
-- event_date?, logged_at?} : 201 {"log"}; 404 unless the caller's tracker.
-- value: required on a numerical tracker, absent on a note tracker.
-- logged_at defaults to now, and may be at most a day ahead.
CREATE OR REPLACE FUNCTION api.create_tracker_log(ctx request.context, id bigint, value numeric, note text, emotion text,
                                                  event_reminder_msg text, event_date text, logged_at text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_tracker tracking.trackers;
  v_problems jsonb;
  v_log tracking.logs;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_tracker := tracking.own_tracker(v_session.account_id, create_tracker_log.id);
  v_problems := jsonb_strip_nulls(jsonb_build_object(
                  'value', CASE WHEN v_tracker.type = 'numerical' AND create_tracker_log.value IS NULL
                                THEN 'required for a numerical tracker' END,
                  'event_date', CASE WHEN nullif(create_tracker_log.event_reminder_msg, '') IS NOT NULL
                                          AND nullif(create_tracker_log.event_date, '') IS NULL
                                     THEN 'required with event_reminder_msg' END))
                || tracking.log_problems(v_tracker.type, create_tracker_log.value, create_tracker_log.note,
                                         create_tracker_log.emotion, create_tracker_log.event_reminder_msg,
                                         create_tracker_log.event_date, create_tracker_log.logged_at);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  INSERT INTO tracking.logs (tracker_id, value, note, emotion, event_reminder_msg, event_date, logged_at)
  VALUES (v_tracker.id, create_tracker_log.value, coalesce(create_tracker_log.note, ''),
          nullif(create_tracker_log.emotion, ''), nullif(create_tracker_log.event_reminder_msg, ''),
          tracking.parse_date(nullif(create_tracker_log.event_date, '')),
          coalesce(tracking.parse_timestamp(create_tracker_log.logged_at), now()))
  RETURNING * INTO v_log;
  RETURN json_build_object('log', tracking.log_json(v_log));
END
$$;

-- PATCH /trackers/{id}/logs/{log_id} {value?, note?, emotion?,
-- event_reminder_msg?, event_date?, logged_at?} : 200 {"log"}; 404 unless
-- the caller's tracker and a log of it. The same rules as POST, on the log
-- as it will be: a reminder message still needs a date.
CREATE OR REPLACE FUNCTION api.update_tracker_log(ctx request.context, id bigint, log_id bigint, value numeric,
                                                  note text, emotion text, event_reminder_msg text, event_date text,
                                                  logged_at text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_tracker tracking.trackers;
  v_old tracking.logs;
  v_problems jsonb;
  v_msg text;
  v_date text;
  v_log tracking.logs;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_tracker := tracking.own_tracker(v_session.account_id, update_tracker_log.id);
  SELECT * INTO v_old FROM tracking.logs l WHERE l.id = update_tracker_log.log_id AND l.tracker_id = v_tracker.id;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such log');
  END IF;
  v_msg := CASE WHEN update_tracker_log.event_reminder_msg IS NULL THEN v_old.event_reminder_msg
                ELSE nullif(update_tracker_log.event_reminder_msg, '') END;
  v_date := CASE WHEN update_tracker_log.event_date IS NULL THEN to_char(v_old.event_date, 'YYYY-MM-DD')
                 ELSE nullif(update_tracker_log.event_date, '') END;
  v_problems := jsonb_strip_nulls(jsonb_build_object(
                  'event_date', CASE WHEN v_msg IS NOT NULL AND v_date IS NULL
                                     THEN 'required with event_reminder_msg' END))
                || tracking.log_problems(v_tracker.type, update_tracker_log.value, update_tracker_log.note,
                                         update_tracker_log.emotion, update_tracker_log.event_reminder_msg,
                                         update_tracker_log.event_date, update_tracker_log.logged_at);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  UPDATE tracking.logs l
     SET value = coalesce(update_tracker_log.value, l.value),
         note = coalesce(update_tracker_log.note, l.note),
         emotion = CASE WHEN update_tracker_log.emotion IS NULL THEN l.emotion
                        ELSE nullif(update_tracker_log.emotion, '') END,
         event_reminder_msg = v_msg,
         event_date = tracking.parse_date(v_date),
         logged_at = coalesce(tracking.parse_timestamp(update_tracker_log.logged_at), l.logged_at)
   WHERE l.id = v_old.id
  RETURNING * INTO v_log;
  RETURN json_build_object('log', tracking.log_json(v_log));
END
$$;

-- DELETE /trackers/{id}/logs/{log_id} : 204; 404 unless the caller's
-- tracker and a log of it.
CREATE OR REPLACE FUNCTION api.delete_tracker_log(ctx request.context, id bigint, log_id bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_tracker tracking.trackers;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_tracker := tracking.own_tracker(v_session.account_id, delete_tracker_log.id);
  DELETE FROM tracking.logs l WHERE l.id = delete_tracker_log.log_id AND l.tracker_id = v_tracker.id;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such log');
  END IF;
  RETURN NULL;
END
$$;

-- GET /trackers/{id}/series?bucket=&from=&to=&tz= : 200 {"series": [...]};
-- 404 unless the caller's tracker. Logs with from <= logged_at < to, counted
-- per bucket of local time in the IANA zone tz (default UTC): day, week
-- (from Monday) or month (default day). Every bucket that overlaps the range
-- appears, oldest first, empty ones with count 0 and null aggregates:
-- numerical trackers {bucket, count, sum, avg, min, max}, note trackers
-- {bucket, count}; bucket is the local date the bucket starts. A day is the
-- local day, 23 or 25 hours long across a DST change. from and to are RFC
-- 3339 timestamps or dates (YYYY-MM-DD, local midnight in tz); to defaults to
-- now, from to the start of the 30 days, 12 weeks or 12 months up to to.
-- At most 1000 buckets.
CREATE OR REPLACE FUNCTION api.tracker_series(ctx request.context, id bigint, bucket text, from_at text, to_at text,
                                              tz text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_tracker tracking.trackers;
  v_bucket text := coalesce(bucket, 'day');
  v_tz text := coalesce(tz, 'UTC');
  v_step interval;
  v_from timestamptz;
  v_to timestamptz;
  v_first timestamp;
  v_last timestamp;
  v_count bigint;
  v_problems jsonb;
  v_series json;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_tracker := tracking.own_tracker(v_session.account_id, tracker_series.id);
  v_tz := tracking.time_zone(v_tz);
  v_step := CASE v_bucket WHEN 'day' THEN interval '1 day' WHEN 'week' THEN interval '1 week'
                          WHEN 'month' THEN interval '1 month' END;
  v_problems := jsonb_strip_nulls(jsonb_build_object(
    'bucket', CASE WHEN v_step IS NULL THEN 'must be day, week or month' END,
    'tz', CASE WHEN v_tz IS NULL THEN 'must be an IANA time zone, e.g. Europe/Berlin' END));
  IF v_problems = '{}' THEN
    v_from := coalesce(tracking.parse_timestamp(from_at), tracking.parse_date(from_at)::timestamp AT TIME ZONE v_tz);
    v_to := coalesce(tracking.parse_timestamp(to_at), tracking.parse_date(to_at)::timestamp AT TIME ZONE v_tz);
    v_problems := jsonb_strip_nulls(jsonb_build_object(
      'from', CASE WHEN from_at IS NOT NULL AND v_from IS NULL
                   THEN 'must be an RFC 3339 timestamp or a date, YYYY-MM-DD' END,
      'to', CASE WHEN to_at IS NOT NULL AND v_to IS NULL
                 THEN 'must be an RFC 3339 timestamp or a date, YYYY-MM-DD' END));
  END IF;
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some parameters are invalid', v_problems);
  END IF;

  v_to := coalesce(v_to, now());
  -- The local start of the bucket holding the range's last instant, and of the first one.
  v_last := date_trunc(v_bucket, (v_to - interval '1 microsecond') AT TIME ZONE v_tz);
  v_from := coalesce(v_from, (v_last - v_step * CASE v_bucket WHEN 'day' THEN 29 ELSE 11 END) AT TIME ZONE v_tz);
  IF v_from >= v_to THEN
    PERFORM response.raise(422, 'VALIDATION', 'some parameters are invalid', '{"to": "must be after from"}');
  END IF;
  v_first := date_trunc(v_bucket, v_from AT TIME ZONE v_tz);
  v_count := CASE v_bucket
               WHEN 'day' THEN v_last::date - v_first::date + 1
               WHEN 'week' THEN (v_last::date - v_first::date) / 7 + 1
               ELSE (extract(year FROM v_last) - extract(year FROM v_first)) * 12
                    + extract(month FROM v_last) - extract(month FROM v_first) + 1 END;
  IF v_count > 1000 THEN
    PERFORM response.raise(422, 'VALIDATION', 'some parameters are invalid',
                           jsonb_build_object('to', format('must be at most 1000 buckets after from (here %s)', v_count)));
  END IF;

  WITH buckets AS (
    SELECT b.local_start FROM generate_series(v_first, v_last, v_step) AS b(local_start)),
  sums AS (
    SELECT date_trunc(v_bucket, l.logged_at AT TIME ZONE v_tz) AS local_start, count(*) AS n, sum(l.value) AS total,
           trim_scale(avg(l.value)) AS mean, min(l.value) AS least, max(l.value) AS most
      FROM tracking.logs l
     WHERE l.tracker_id = v_tracker.id AND l.logged_at >= v_from AND l.logged_at < v_to
     GROUP BY 1)
  SELECT json_agg(CASE WHEN v_tracker.type = 'numerical'
                       THEN json_build_object('bucket', to_char(b.local_start, 'YYYY-MM-DD'), 'count', coalesce(s.n, 0),
                                              'sum', s.total, 'avg', s.mean, 'min', s.least, 'max', s.most)
                       ELSE json_build_object('bucket', to_char(b.local_start, 'YYYY-MM-DD'), 'count', coalesce(s.n, 0))
                  END ORDER BY b.local_start)
    INTO v_series
    FROM buckets b LEFT JOIN sums s USING (local_start);

  RETURN json_build_object('series', coalesce(v_series, '[]'));
END
$$;
