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
-- (at, key), newest first, at most n. Two steps (sql/migrations/013, 018):
--
-- 1. The first 2n entries of the B-tree activities_feed_visible_idx
--    (created_at DESC, uuid DESC) INCLUDE (expires_at) below the cursor, an
--    index-only scan that tests expiry on the index entries. The usual page
--    ends here: n visible among 2n entries, or the end of the index.
-- 2. Otherwise a run of expired entries that maintenance has not deleted
--    yet lies across the page, and the B-tree would cost one entry each to
--    pass it (50k just-expired posts: 50k entries on every first page). The
--    rest of the page comes from the GiST index activities_feed_points_idx
--    over the points (created_at, expires_at): windows of created_at below
--    the entries of step 1, 1 s wide and four times wider each time, each
--    asking for the points with expires_at after now, until the page is
--    full or the windows reach the beginning of time. A window skips a page
--    of expired points by its bounding box, so the run costs a few pages,
--    not its length. The box is a float test widened by a millisecond; the
--    exact tests on the rows the boxes let through decide (read from the
--    heap: the window's visible activities, never the expired ones).
--
-- Generic plans (plan_cache_mode): the statements below are planned once
-- per session, not at every call; their plans do not depend on the values.
-- A MATERIALIZED window keeps the planner from answering it with the B-tree
-- (the created_at range would allow it, and would pass the run again).
-- ROWS 21, a page's keys: the caller's plan joins them by primary key (a
-- planner told the default 1,000 rows reads a small table whole instead).
CREATE OR REPLACE FUNCTION publishing.feed_keys(at timestamptz, key uuid, n integer)
RETURNS TABLE (created_at timestamptz, uuid uuid)
LANGUAGE plpgsql STABLE ROWS 21
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan
AS $$
DECLARE
  v_scan constant integer := 2 * n;
  v_now constant float8 := extract(epoch FROM now())::float8;
  v_need integer := n;
  v_got integer;
  v_hi_at timestamptz;
  v_hi_key uuid;
  v_lo timestamptz;
  v_width interval := interval '1 second';
BEGIN
  RETURN QUERY
    SELECT s.created_at, s.uuid
      FROM (SELECT x.created_at, x.uuid, x.expires_at
              FROM publishing.activities x
             WHERE x.reply_to_activity_uuid IS NULL
               AND (x.created_at, x.uuid) < (feed_keys.at, feed_keys.key)
             ORDER BY x.created_at DESC, x.uuid DESC
             LIMIT v_scan) s
     WHERE s.expires_at IS NULL OR s.expires_at > now()
     ORDER BY s.created_at DESC, s.uuid DESC
     LIMIT n;
  GET DIAGNOSTICS v_got = ROW_COUNT;
  v_need := n - v_got;
  IF v_need <= 0 THEN
    RETURN;
  END IF;
  -- The last of the 2n entries step 1 read, if there were 2n.
  SELECT x.created_at, x.uuid INTO v_hi_at, v_hi_key
    FROM publishing.activities x
   WHERE x.reply_to_activity_uuid IS NULL
     AND (x.created_at, x.uuid) < (feed_keys.at, feed_keys.key)
   ORDER BY x.created_at DESC, x.uuid DESC
  OFFSET v_scan - 1 LIMIT 1;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  LOOP
    v_lo := CASE WHEN v_width > interval '200 years' THEN '-infinity' ELSE v_hi_at - v_width END;
    RETURN QUERY
      WITH w AS MATERIALIZED (
        SELECT x.created_at, x.uuid, x.expires_at
          FROM publishing.activities x
         WHERE x.reply_to_activity_uuid IS NULL
           AND publishing.feed_point(x.created_at, x.expires_at)
               <@ box(point(extract(epoch FROM v_lo)::float8 - 0.001, v_now - 0.001),
                      point(extract(epoch FROM v_hi_at)::float8 + 0.001, 1e13)))
      SELECT w.created_at, w.uuid
        FROM w
       WHERE w.created_at >= v_lo
         AND (w.created_at, w.uuid) < (v_hi_at, v_hi_key)
         AND (w.expires_at IS NULL OR w.expires_at > now())
       ORDER BY w.created_at DESC, w.uuid DESC
       LIMIT v_need;
    GET DIAGNOSTICS v_got = ROW_COUNT;
    v_need := v_need - v_got;
    EXIT WHEN v_need <= 0 OR NOT isfinite(v_lo);
    -- The next window: everything older than this one.
    v_hi_at := v_lo;
    v_hi_key := '00000000-0000-0000-0000-000000000000';
    v_width := v_width * 4;
  END LOOP;
END
$$;

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
