-- ============================================================================
-- api: the activity feed (/activities, /users/{handle}/activities)
-- ============================================================================
-- Conventions as in sessions.sql.
--
-- An activity is visible while its expires_at is NULL or in the future;
-- every route below treats an invisible one as missing (404), whether
-- maintenance has deleted it yet or not. Lists page with an opaque keyset
-- cursor on (created_at, uuid), newest first (an activity's replies oldest
-- first): ?limit= (1–100, default 20) and ?before= (the "next" of the
-- previous page; null on the last page), each list reading only its own
-- cursors (response.cursor, response.uncursor).
-- Likes, reposts and replies lock the activity FOR KEY SHARE (it cannot be
-- deleted under them); their counters are kept by the tables' triggers
-- (sql/migrations/007_activities.sql).

-- GET /activities?limit=&before= : 200 {"activities": [...], "next"}
-- The home feed: visible top-level activities, newest first (cursor list
-- 'activities'). The page's keys come from publishing.feed_keys: an
-- index-only scan of the feed's B-tree and, behind a run of expired
-- activities that maintenance has not deleted yet, windows of its GiST index
-- (sql/migrations/012, 013, 018); then limit + 1 rows by primary key,
-- however deep the page.
CREATE OR REPLACE FUNCTION api.home_feed(ctx request.context, before text, row_limit bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_limit integer := response.page_limit(row_limit);
  v_start record := publishing.page_start('activities', before);
  v_items json;
  v_next text;
BEGIN
  -- One row more than the page tells whether there is a next page.
  -- The author of each row by its primary key, in the page's select list:
  -- limit + 1 index lookups, whatever the plan's estimate of the limit.
  WITH page AS (
    SELECT x AS act, x.created_at, x.uuid, (SELECT u FROM auth.accounts u WHERE u.id = x.author_id) AS author
      FROM publishing.feed_keys(v_start.at, v_start.key, v_limit + 1) k
      JOIN publishing.activities x ON x.uuid = k.uuid)
  SELECT coalesce(json_agg(publishing.activity_json(p.act, (p.author).username::text, (p.author).display_name)
                           ORDER BY p.created_at DESC, p.uuid DESC) FILTER (WHERE p.rn <= v_limit), '[]'),
         CASE WHEN count(*) > v_limit
              THEN max(response.cursor('activities', p.created_at, p.uuid::text)) FILTER (WHERE p.rn = v_limit) END
    INTO v_items, v_next
    FROM (SELECT page.*, row_number() OVER (ORDER BY page.created_at DESC, page.uuid DESC) AS rn FROM page) p;
  RETURN json_build_object('activities', v_items, 'next', v_next);
END
$$;

-- GET /users/{handle}/activities?limit=&before= : 200 {"activities": [...], "next"}
-- One author's visible activities, top-level and replies, newest first
-- (index activities_author_idx; cursor list 'user_activities'). An unknown
-- handle is a 404.
CREATE OR REPLACE FUNCTION api.user_activities(ctx request.context, handle text, before text, row_limit bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_limit integer := response.page_limit(row_limit);
  v_start record := publishing.page_start('user_activities', before);
  v_author auth.accounts;
  v_items json;
  v_next text;
BEGIN
  SELECT * INTO v_author FROM auth.accounts u WHERE u.username = user_activities.handle::citext;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such user');
  END IF;

  WITH page AS (
    SELECT x AS act, x.created_at, x.uuid
      FROM publishing.activities x
     WHERE x.author_id = v_author.id
       AND (x.expires_at IS NULL OR x.expires_at > now())
       AND (x.created_at, x.uuid) < (v_start.at, v_start.key)
     ORDER BY x.created_at DESC, x.uuid DESC
     LIMIT v_limit + 1)
  SELECT coalesce(json_agg(publishing.activity_json(p.act, v_author.username::text, v_author.display_name)
                           ORDER BY p.created_at DESC, p.uuid DESC) FILTER (WHERE p.rn <= v_limit), '[]'),
         CASE WHEN count(*) > v_limit
              THEN max(response.cursor('user_activities', p.created_at, p.uuid::text)) FILTER (WHERE p.rn = v_limit) END
    INTO v_items, v_next
    FROM (SELECT page.*, row_number() OVER (ORDER BY page.created_at DESC, page.uuid DESC) AS rn FROM page) p;
  RETURN json_build_object('activities', v_items, 'next', v_next);
END
$$;

-- GET /activities/{uuid} : 200 {"activity": {...}}
-- One visible activity; a missing or expired one is a 404. Its replies are
-- a list of their own, GET /activities/{uuid}/replies (api.list_replies):
-- this answer costs one row however large the thread (it held every
-- reply once: 100k replies made one anonymous GET build 100 MB of JSON).
CREATE OR REPLACE FUNCTION api.get_activity(ctx request.context, activity_uuid uuid)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_activity json;
BEGIN
  SELECT publishing.activity_json(a, u.username::text, u.display_name) INTO v_activity
    FROM publishing.activities a JOIN auth.accounts u ON u.id = a.author_id
   WHERE a.uuid = get_activity.activity_uuid AND (a.expires_at IS NULL OR a.expires_at > now());
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such activity');
  END IF;
  RETURN json_build_object('activity', v_activity);
END
$$;

-- GET /activities/{uuid}/replies?limit=&before= : 200 {"replies": [...], "next"}
-- An activity's visible replies, oldest first (a thread reads down), in
-- keyset pages like every list: limit 1–100, default 20; before is the
-- "next" of the previous page (cursor list 'replies'; the name is the
-- same on every list whatever its order: the page after that cursor).
-- Served by activities_replies_idx (reply_to_activity_uuid, created_at,
-- uuid): one range scan of limit + 1 entries at any depth. A missing or
-- expired parent is a 404.
CREATE OR REPLACE FUNCTION api.list_replies(ctx request.context, activity_uuid uuid, before text, row_limit bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_limit integer := response.page_limit(row_limit);
  v_start record := publishing.page_start('replies', before);
  v_items json;
  v_next text;
BEGIN
  PERFORM 1 FROM publishing.activities a
   WHERE a.uuid = list_replies.activity_uuid AND (a.expires_at IS NULL OR a.expires_at > now());
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such activity');
  END IF;

  -- One row more than the page tells whether there is a next page.
  WITH page AS (
    SELECT r AS act, r.created_at, r.uuid, (SELECT u FROM auth.accounts u WHERE u.id = r.author_id) AS author
      FROM publishing.activities r
     WHERE r.reply_to_activity_uuid = list_replies.activity_uuid
       AND (r.expires_at IS NULL OR r.expires_at > now())
       AND (r.created_at, r.uuid) > (v_start.at, v_start.key)
     ORDER BY r.created_at, r.uuid
     LIMIT v_limit + 1)
  SELECT coalesce(json_agg(publishing.activity_json(p.act, (p.author).username::text, (p.author).display_name)
                           ORDER BY p.created_at, p.uuid) FILTER (WHERE p.rn <= v_limit), '[]'),
         CASE WHEN count(*) > v_limit
              THEN max(response.cursor('replies', p.created_at, p.uuid::text)) FILTER (WHERE p.rn = v_limit) END
    INTO v_items, v_next
    FROM (SELECT page.*, row_number() OVER (ORDER BY page.created_at, page.uuid) AS rn FROM page) p;
  RETURN json_build_object('replies', v_items, 'next', v_next);
END
$$;

-- POST /activities {message, expires_at?} : 201 {"activity"}
-- 422 VALIDATION per field: message 1–280 characters, not only whitespace;
-- expires_at, when given, a timestamp in the future.
-- Counted per account with replies (auth.rate_limits 'activity_account';
-- 429 RATE_LIMITED past it), so one account cannot flood the feed.
CREATE OR REPLACE FUNCTION api.create_activity(ctx request.context, message text, expires_at text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_uuid uuid;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;
  PERFORM auth.rate_count(ARRAY[auth.rate_key('activity_account', 'account:' || v_session.account_id)]);

  v_problems := publishing.activity_problems(message, expires_at);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  INSERT INTO publishing.activities (author_id, message, expires_at)
  VALUES (v_session.account_id, create_activity.message, publishing.parse_timestamp(create_activity.expires_at))
  RETURNING uuid INTO v_uuid;
  RETURN publishing.activity_answer(v_uuid);
END
$$;

-- POST /activities/{uuid}/replies {message} : 201 {"activity"} (the reply)
-- The parent must be visible (404 otherwise); its replies_count +1 (trigger).
-- The reply takes the parent's expires_at: a thread expires as one.
-- Counted with new activities, per account (429 past 'activity_account').
CREATE OR REPLACE FUNCTION api.reply_to_activity(ctx request.context, activity_uuid uuid, message text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_parent publishing.activities;
  v_problems jsonb;
  v_uuid uuid;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;
  PERFORM auth.rate_count(ARRAY[auth.rate_key('activity_account', 'account:' || v_session.account_id)]);

  v_problems := publishing.activity_problems(message, NULL);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;
  v_parent := publishing.visible_activity_for_share(activity_uuid);

  INSERT INTO publishing.activities (author_id, message, reply_to_activity_uuid, expires_at)
  VALUES (v_session.account_id, reply_to_activity.message, v_parent.uuid, v_parent.expires_at)
  RETURNING uuid INTO v_uuid;
  RETURN publishing.activity_answer(v_uuid);
END
$$;

-- PUT /activities/{uuid}/like : 204, idempotent (a second like changes
-- nothing); likes_count follows by trigger. 404 for a missing or expired activity.
CREATE OR REPLACE FUNCTION api.like_activity(ctx request.context, activity_uuid uuid)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  PERFORM publishing.visible_activity_for_share(activity_uuid);
  INSERT INTO publishing.likes (account_id, activity_uuid)
  VALUES (v_session.account_id, like_activity.activity_uuid)
  ON CONFLICT DO NOTHING;
  RETURN NULL;
END
$$;

-- DELETE /activities/{uuid}/like : 204, idempotent (unliking what is not
-- liked changes nothing). 404 for a missing or expired activity.
CREATE OR REPLACE FUNCTION api.unlike_activity(ctx request.context, activity_uuid uuid)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  PERFORM publishing.visible_activity_for_share(activity_uuid);
  DELETE FROM publishing.likes l
   WHERE l.account_id = v_session.account_id AND l.activity_uuid = unlike_activity.activity_uuid;
  RETURN NULL;
END
$$;

-- POST /activities/{uuid}/reposts : 201 {"activity"} with reposts_count +1.
-- A second repost by the same account is a 409 CONFLICT that changes
-- nothing. 404 for a missing or expired activity.
CREATE OR REPLACE FUNCTION api.repost_activity(ctx request.context, activity_uuid uuid)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  PERFORM publishing.visible_activity_for_share(activity_uuid);
  INSERT INTO publishing.reposts (account_id, activity_uuid)
  VALUES (v_session.account_id, repost_activity.activity_uuid)
  ON CONFLICT DO NOTHING;
  IF NOT FOUND THEN
    PERFORM response.raise(409, 'CONFLICT', 'you have already reposted this activity');
  END IF;
  RETURN publishing.activity_answer(activity_uuid);
END
$$;

-- DELETE /activities/{uuid}/reposts : 204, the caller's repost undone;
-- idempotent. 404 for a missing or expired activity.
CREATE OR REPLACE FUNCTION api.unrepost_activity(ctx request.context, activity_uuid uuid)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  PERFORM publishing.visible_activity_for_share(activity_uuid);
  DELETE FROM publishing.reposts r
   WHERE r.account_id = v_session.account_id AND r.activity_uuid = unrepost_activity.activity_uuid;
  RETURN NULL;
END
$$;

-- DELETE /activities/{uuid} : 204; its author only (403 FORBIDDEN for
-- others; 404 when missing or expired). Its likes, reposts and replies go
-- with it (ON DELETE CASCADE, replies with their own likes and reposts), and
-- the parent's replies_count drops when it was a reply (trigger).
-- Logs INFO 'activity deleted' (source publishing).
CREATE OR REPLACE FUNCTION api.delete_activity(ctx request.context, activity_uuid uuid)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_activity publishing.activities;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  SELECT * INTO v_activity FROM publishing.activities a
   WHERE a.uuid = delete_activity.activity_uuid AND (a.expires_at IS NULL OR a.expires_at > now())
     FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such activity');
  END IF;
  IF v_activity.author_id <> v_session.account_id THEN
    PERFORM response.raise(403, 'FORBIDDEN', 'only its author may delete an activity');
  END IF;

  DELETE FROM publishing.activities a WHERE a.uuid = v_activity.uuid;
  PERFORM audit.write('INFO', 'publishing', 'activity deleted', v_session.account_id,
                      jsonb_build_object('activity_uuid', v_activity.uuid,
                                         'reply_to_activity_uuid', v_activity.reply_to_activity_uuid,
                                         'replies_count', v_activity.replies_count), ctx);
  RETURN NULL;
END
$$;
