-- ============================================================================
-- tracking: trackers and their logs (tables and the updated_at triggers:
-- sql/migrations/008_trackers.sql)
-- ============================================================================

-- The emotions a log may carry (the CHECK logs_emotion_known says the same).
CREATE OR REPLACE FUNCTION tracking.emotions() RETURNS text[]
LANGUAGE sql IMMUTABLE
RETURN ARRAY['happy', 'calm', 'neutral', 'tired', 'anxious', 'sad', 'angry'];

-- ----------------------------------------------------------------------------
-- Validation: per-field problems as {"field": "reason"}, empty when all is
-- well. NULL arguments are not checked (callers decide what is required).
-- The tables' CHECK constraints say the same; these name the field.
-- ----------------------------------------------------------------------------

-- A tracker's fields; unit and what_to_track only on a numerical tracker
-- ('' is none, and allowed on any).
CREATE OR REPLACE FUNCTION tracking.tracker_problems(tracker_type text, name text, description text, unit text,
                                                     what_to_track text)
RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'name', CASE WHEN length(name) NOT BETWEEN 1 AND 100 OR btrim(name) = ''
                 THEN 'must be 1 to 100 characters, not all blank' END,
    'description', CASE WHEN length(description) > 2000 THEN 'must be at most 2000 characters' END,
    'type', CASE WHEN tracker_type NOT IN ('note', 'numerical') THEN 'must be note or numerical' END,
    'unit', CASE WHEN unit <> '' AND tracker_type = 'note' THEN 'only for a numerical tracker'
                 WHEN length(unit) > 32 THEN 'must be at most 32 characters' END,
    'what_to_track', CASE WHEN what_to_track <> '' AND tracker_type = 'note' THEN 'only for a numerical tracker'
                          WHEN length(what_to_track) > 200 THEN 'must be at most 200 characters' END));
END;

-- A log value of a tracker of this type, or why not: none on a note
-- tracker; a finite number of at most 15 significant digits.
CREATE OR REPLACE FUNCTION tracking.value_problem(tracker_type text, value numeric) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN CASE WHEN value IS NULL THEN NULL
            WHEN tracker_type = 'note' THEN 'must be absent for a note tracker'
            WHEN value IN ('NaN', 'Infinity', '-Infinity') THEN 'must be a finite number'
            WHEN length(btrim(replace(trim_scale(abs(value))::text, '.', ''), '0')) > 15
            THEN 'must have at most 15 significant digits' END;

-- A log's own fields ('' clears emotion, event_reminder_msg and event_date
-- on PATCH, and is none on POST).
CREATE OR REPLACE FUNCTION tracking.log_problems(tracker_type text, value numeric, note text, emotion text,
                                                 event_reminder_msg text, event_date text, logged_at text)
RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'value', tracking.value_problem(tracker_type, value),
    'note', CASE WHEN length(note) > 10000 THEN 'must be at most 10000 characters' END,
    'emotion', CASE WHEN emotion <> '' AND NOT emotion = ANY (tracking.emotions())
                    THEN 'must be one of ' || array_to_string(tracking.emotions(), ', ') END,
    'event_reminder_msg', CASE WHEN length(event_reminder_msg) > 500 THEN 'must be at most 500 characters' END,
    'event_date', CASE WHEN event_date <> '' AND tracking.parse_date(event_date) IS NULL
                       THEN 'must be a date, YYYY-MM-DD' END,
    'logged_at', CASE WHEN logged_at IS NULL THEN NULL
                      WHEN tracking.parse_timestamp(logged_at) IS NULL
                      THEN 'must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z'
                      WHEN tracking.parse_timestamp(logged_at) > now() + interval '1 day'
                      THEN 'must not be more than a day in the future' END));
END;

-- An IANA time zone name PostgreSQL knows (Europe/Berlin, UTC), spelt as
-- the time zone database spells it, else NULL. POSIX specifications
-- ('UTC+5', 'CET-1CEST') and abbreviations ('PST') are not names and answer
-- NULL: the only names with digits are Etc/GMT±N and the four US legacy
-- ones. The TimeZone setting does the lookup (the zone is loaded once per
-- connection; reading pg_timezone_names instead costs some 40 ms a call)
-- and is set back at once; it also refuses abbreviations.
CREATE OR REPLACE FUNCTION tracking.time_zone(name text) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_before text := current_setting('TimeZone');
  v_known text;
BEGIN
  IF name !~ '^[A-Za-z][A-Za-z_-]*(/[A-Za-z][A-Za-z_-]*)*$'
     AND name !~ '^Etc/GMT[+-]([0-9]|1[0-4])$' AND name !~ '^(EST5EDT|CST6CDT|MST7MDT|PST8PDT)$' THEN
    RETURN NULL;
  END IF;
  BEGIN
    v_known := set_config('TimeZone', name, true);
    PERFORM set_config('TimeZone', v_before, true);
  EXCEPTION WHEN invalid_parameter_value THEN
    RETURN NULL;
  END;
  RETURN CASE WHEN v_known = name THEN name END;
END
$$;

-- ----------------------------------------------------------------------------
-- Reading
-- ----------------------------------------------------------------------------

-- The caller's tracker, or 404 NOT_FOUND: another account's tracker answers
-- exactly as one that does not exist.
CREATE OR REPLACE FUNCTION tracking.own_tracker(account_id bigint, tracker_id bigint) RETURNS tracking.trackers
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_tracker tracking.trackers;
BEGIN
  SELECT * INTO v_tracker FROM tracking.trackers t
   WHERE t.id = own_tracker.tracker_id AND t.account_id = own_tracker.account_id;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such tracker');
  END IF;
  RETURN v_tracker;
END
$$;

-- The tracker JSON: its columns, its log count and the time of its latest log (null without logs).
CREATE OR REPLACE FUNCTION tracking.tracker_json(t tracking.trackers) RETURNS json
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT json_build_object('id', t.id, 'name', t.name, 'description', t.description, 'type', t.type,
                           'unit', t.unit, 'what_to_track', t.what_to_track,
                           'created_at', response.ts(t.created_at), 'updated_at', response.ts(t.updated_at),
                           'log_count', s.log_count, 'last_logged_at', response.ts(s.last_logged_at))
    FROM (SELECT count(*) AS log_count, max(l.logged_at) AS last_logged_at
            FROM tracking.logs l WHERE l.tracker_id = t.id) s;
END;

-- The log JSON.
CREATE OR REPLACE FUNCTION tracking.log_json(l tracking.logs) RETURNS json
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT json_build_object('id', l.id, 'tracker_id', l.tracker_id, 'value', l.value, 'note', l.note,
                           'emotion', l.emotion, 'event_reminder_msg', l.event_reminder_msg,
                           'event_date', to_char(l.event_date, 'YYYY-MM-DD'),
                           'logged_at', response.ts(l.logged_at), 'created_at', response.ts(l.created_at),
                           'updated_at', response.ts(l.updated_at));
END;
