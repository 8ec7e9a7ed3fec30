-- ============================================================================
-- publishing: the activity feed (tables: sql/migrations/007_activities.sql)
-- ============================================================================
-- Helpers of sql/code/api/activities.sql: validation, the activity JSON, the
-- feed's cursor. Visibility is one rule everywhere: an activity is visible
-- while expires_at is NULL or in the future, so an expired one disappears
-- the moment it expires, whether maintenance has deleted it yet or not.

-- What is wrong with a message, or NULL: 1–280 characters (not bytes), not
-- only whitespace. The same rule as the table's CHECKs, answered per field
-- (422) instead of as a constraint violation.
CREATE OR REPLACE FUNCTION publishing.message_problem(message text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN message IS NULL THEN 'required'
            WHEN char_length(message) NOT BETWEEN 1 AND 280 THEN 'must be 1 to 280 characters'
            WHEN message !~ '[^[:space:]]' THEN 'must not be only whitespace' END;

-- expires_at arrives as JSON text. A timestamp, or NULL when the text is not
-- one: a date first (YYYY-MM-DD, so no "tomorrow" or "infinity"), parsed by
-- PostgreSQL (RFC 3339 with an offset or Z; without one, it is UTC).
-- Never raises: the caller answers 422 with a per-field detail, not a 500
-- or the 400 of a failed cast.
CREATE OR REPLACE FUNCTION publishing.parse_timestamp(value text) RETURNS timestamptz
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET timezone = 'UTC'
AS $$
DECLARE
  v timestamptz;
BEGIN
  IF value IS NULL OR length(value) > 64 OR value !~ '^\d{4}-\d\d-\d\d' THEN
    RETURN NULL;
  END IF;
  v := value::timestamptz;
  RETURN CASE WHEN isfinite(v) THEN v END;
EXCEPTION WHEN data_exception THEN
  RETURN NULL;
END
$$;

-- What is wrong with a new activity's fields, as {"field": "reason"}; empty
-- when all is well. expires_at is optional; given, it must be a timestamp in
-- the future.
CREATE OR REPLACE FUNCTION publishing.activity_problems(message text, expires_at text) RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'message', publishing.message_problem(message),
    'expires_at', CASE WHEN expires_at IS NULL THEN NULL
                       WHEN publishing.parse_timestamp(expires_at) IS NULL
                         THEN 'must be a timestamp such as 2030-01-31T12:00:00Z'
                       WHEN publishing.parse_timestamp(expires_at) <= now() THEN 'must be in the future' END));
END;

-- The activity JSON of docs/api.md; handle is the author's username.
CREATE OR REPLACE FUNCTION publishing.activity_json(a publishing.activities, handle text, display_name text)
RETURNS json
LANGUAGE sql STABLE
RETURN json_build_object(
  'uuid', a.uuid, 'message', a.message,
  'author', json_build_object('handle', handle, 'display_name', display_name),
  'replies_count', a.replies_count, 'reposts_count', a.reposts_count, 'likes_count', a.likes_count,
  'reply_to_activity_uuid', a.reply_to_activity_uuid,
  'expires_at', response.ts(a.expires_at), 'created_at', response.ts(a.created_at));

-- The {"activity": …} answer for one activity by its key (visible or not:
-- the callers have just written it).
CREATE OR REPLACE FUNCTION publishing.activity_answer(activity_uuid uuid) RETURNS json
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT json_build_object('activity', publishing.activity_json(a, u.username::text, u.display_name))
    FROM publishing.activities a JOIN auth.accounts u ON u.id = a.author_id
   WHERE a.uuid = activity_answer.activity_uuid;
END;

-- Where a page starts: the (created_at, uuid) of the last row of the
-- previous page, from its opaque cursor of the list `list` ('activities',
-- 'user_activities' or 'replies': response.cursor); without one, above
-- every row ('infinity' and the largest uuid) for the newest-first lists,
-- below every row ('-infinity' and the smallest) for the oldest-first one,
-- so that every page runs the same keyset condition, which the listing's
-- index serves. A cursor that is not this list's is a 400 BAD_REQUEST.
CREATE OR REPLACE FUNCTION publishing.page_start(list text, before text, OUT at timestamptz, OUT key uuid)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key text;
BEGIN
  IF before IS NULL THEN
    IF list = 'replies' THEN
      at := '-infinity';
      key := '00000000-0000-0000-0000-000000000000';
    ELSE
      at := 'infinity';
      key := 'ffffffff-ffff-ffff-ffff-ffffffffffff';
    END IF;
    RETURN;
  END IF;
  SELECT c.at, c.key INTO at, v_key FROM response.uncursor(list, before) c;
  IF v_key !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' OR at IS NULL OR NOT isfinite(at) THEN
    PERFORM response.raise(400, 'BAD_REQUEST', 'not a cursor from this route',
                           '{"before": "is not a cursor from this route"}');
  END IF;
  key := v_key::uuid;
END
$$;

-- The keys of one home feed page: the visible top-level activities below
-- (at, key), newest first, at most n. Only the index's own columns are
-- named, so the index activities_feed_visible_idx (created_at DESC, uuid
-- DESC) INCLUDE (expires_at) WHERE reply_to_activity_uuid IS NULL serves it
-- by an index-only scan: the expiry test runs on the index entries, and an
-- activity that expired since maintenance last ran costs an index tuple,
-- not a heap fetch (sql/migrations/012). api.home_feed reads the page's rows
-- by primary key afterwards. An SQL function the planner inlines into its
-- caller, so that the test (tests/sql/15_feed_index.sql) explains the very
-- query the feed runs.
CREATE OR REPLACE FUNCTION publishing.feed_keys(at timestamptz, key uuid, n integer)
RETURNS TABLE (created_at timestamptz, uuid uuid)
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT x.created_at, x.uuid
    FROM publishing.activities x
   WHERE x.reply_to_activity_uuid IS NULL
     AND (x.expires_at IS NULL OR x.expires_at > now())
     AND (x.created_at, x.uuid) < (feed_keys.at, feed_keys.key)
   ORDER BY x.created_at DESC, x.uuid DESC
   LIMIT feed_keys.n;
END;

-- The visible activity with this key, locked FOR KEY SHARE (it cannot be
-- deleted until the caller's transaction ends, while likes and counters may
-- still change it), or a 404.
CREATE OR REPLACE FUNCTION publishing.visible_activity_for_share(activity_uuid uuid) RETURNS publishing.activities
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v publishing.activities;
BEGIN
  SELECT * INTO v FROM publishing.activities a
   WHERE a.uuid = visible_activity_for_share.activity_uuid AND (a.expires_at IS NULL OR a.expires_at > now())
     FOR KEY SHARE;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such activity');
  END IF;
  RETURN v;
END
$$;
