-- ============================================================================
-- api: goals (/goals, /goals/{id}, /goals/{id}/entries, /goals/{id}/entries/{entry_id})
-- ============================================================================
-- Conventions as in sessions.sql. Everything here is private: a goal, or an
-- entry, of another account answers 404 NOT_FOUND exactly as one that does
-- not exist (tracking.own_goal), and that check comes before any other
-- about the request. Absent (or null) fields of a PATCH are left alone; an
-- empty string clears description, unit and due_date (note: empties it).
-- completed_at is kept by triggers (sql/migrations/006_goals.sql).

-- GET /goals : 200 {"goals": [...]}, each with progress and percent: open
-- goals first, then by due date (none last), then newest first.
CREATE OR REPLACE FUNCTION api.list_goals(ctx request.context)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  RETURN json_build_object('goals', coalesce(
    (SELECT json_agg(tracking.goal_json(g)
                     ORDER BY g.completed_at IS NOT NULL, g.due_date NULLS LAST, g.created_at DESC, g.id DESC)
       FROM tracking.goals g
      WHERE g.account_id = v_session.account_id),
    '[]'));
END
$$;

-- POST /goals {title, description?, target_amount?, unit?, due_date?} : 201 {"goal"}
CREATE OR REPLACE FUNCTION api.create_goal(ctx request.context, title text, description text, target_amount numeric,
                                           unit text, due_date text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_goal tracking.goals;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_problems := jsonb_strip_nulls(jsonb_build_object('title', CASE WHEN create_goal.title IS NULL THEN 'required' END))
                || tracking.goal_problems(create_goal.title, create_goal.description, create_goal.target_amount,
                                          create_goal.unit, create_goal.due_date);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  INSERT INTO tracking.goals (account_id, title, description, target_amount, unit, due_date)
  VALUES (v_session.account_id, create_goal.title, coalesce(create_goal.description, ''), create_goal.target_amount,
          nullif(create_goal.unit, ''), tracking.parse_date(nullif(create_goal.due_date, '')))
  RETURNING * INTO v_goal;
  RETURN json_build_object('goal', tracking.goal_json(v_goal));
END
$$;

-- GET /goals/{id} : 200 {"goal"}; 404 unless the caller's.
CREATE OR REPLACE FUNCTION api.get_goal(ctx request.context, id bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  RETURN json_build_object('goal', tracking.goal_json(tracking.own_goal(v_session.account_id, get_goal.id)));
END
$$;

-- PATCH /goals/{id} {title?, description?, target_amount?, unit?, due_date?} : 200 {"goal"}; 404 unless the
-- caller's. A new target sets or clears completed_at (the goals trigger).
CREATE OR REPLACE FUNCTION api.update_goal(ctx request.context, id bigint, title text, description text,
                                           target_amount numeric, unit text, due_date text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_goal tracking.goals;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_goal := tracking.own_goal(v_session.account_id, update_goal.id, lock => true);
  v_problems := tracking.goal_problems(update_goal.title, update_goal.description, update_goal.target_amount,
                                       update_goal.unit, update_goal.due_date);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  UPDATE tracking.goals g
     SET title = coalesce(update_goal.title, g.title),
         description = coalesce(update_goal.description, g.description),
         target_amount = coalesce(update_goal.target_amount, g.target_amount),
         unit = CASE WHEN update_goal.unit IS NULL THEN g.unit ELSE nullif(update_goal.unit, '') END,
         due_date = CASE WHEN update_goal.due_date IS NULL THEN g.due_date
                         ELSE tracking.parse_date(nullif(update_goal.due_date, '')) END
   WHERE g.id = v_goal.id
  RETURNING * INTO v_goal;
  RETURN json_build_object('goal', tracking.goal_json(v_goal));
END
$$;

-- DELETE /goals/{id} : 204, with its entries; 404 unless the caller's.
CREATE OR REPLACE FUNCTION api.delete_goal(ctx request.context, id bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  DELETE FROM tracking.goals g WHERE g.id = delete_goal.id AND g.account_id = v_session.account_id;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such goal');
  END IF;
  RETURN NULL;
END
$$;

-- GET /goals/{id}/entries?before=&limit= : 200 {"entries": [...], "next"}; 404
-- unless the caller's goal. Newest first by (occurred_at, id); before is the
-- "next" cursor of the previous page (response.cursor, list 'goal_entries'), limit is 1–100,
-- default 20. The index (goal_id, occurred_at DESC, id DESC) serves any page.
CREATE OR REPLACE FUNCTION api.list_goal_entries(ctx request.context, id bigint, before text, row_limit bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_goal tracking.goals;
  v_limit integer;
  v_at timestamptz;
  v_key_id bigint;
  v_entries json;
  v_next text;
  v_more boolean;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_goal := tracking.own_goal(v_session.account_id, list_goal_entries.id);
  v_limit := response.page_limit(row_limit);
  SELECT c.at, c.id INTO v_at, v_key_id FROM response.uncursor_id('goal_entries', before) c;

  -- One row more than the page tells whether there is a next page.
  WITH page AS (
    SELECT e AS entry, e.occurred_at, e.id
      FROM tracking.goal_entries e
     WHERE e.goal_id = v_goal.id
       AND (v_key_id IS NULL OR (e.occurred_at, e.id) < (v_at, v_key_id))
     ORDER BY e.occurred_at DESC, e.id DESC
     LIMIT v_limit + 1)
  SELECT coalesce(json_agg(tracking.entry_json(p.entry) ORDER BY p.rn) FILTER (WHERE p.rn <= v_limit), '[]'),
         max(response.cursor('goal_entries', p.occurred_at, p.id::text)) FILTER (WHERE p.rn = v_limit),
         count(*) > v_limit
    INTO v_entries, v_next, v_more
    FROM (SELECT page.*, row_number() OVER (ORDER BY page.occurred_at DESC, page.id DESC) AS rn FROM page) p;

  RETURN json_build_object('entries', v_entries, 'next', CASE WHEN v_more THEN v_next END);
END
$$;

-- POST /goals/{id}/entries {amount?, note?, occurred_at?} : 201 {"entry"}; 404
-- unless the caller's goal. occurred_at defaults to now.
CREATE OR REPLACE FUNCTION api.create_goal_entry(ctx request.context, id bigint, amount numeric, note text,
                                                 occurred_at text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_goal tracking.goals;
  v_problems jsonb;
  v_entry tracking.goal_entries;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  -- The goal's lock first, as the completed_at trigger takes it: one order, no deadlock.
  v_goal := tracking.own_goal(v_session.account_id, create_goal_entry.id, lock => true);
  v_problems := tracking.entry_problems(create_goal_entry.amount, create_goal_entry.note, create_goal_entry.occurred_at);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  INSERT INTO tracking.goal_entries (goal_id, amount, note, occurred_at)
  VALUES (v_goal.id, create_goal_entry.amount, coalesce(create_goal_entry.note, ''),
          coalesce(tracking.parse_timestamp(create_goal_entry.occurred_at), now()))
  RETURNING * INTO v_entry;
  RETURN json_build_object('entry', tracking.entry_json(v_entry));
END
$$;

-- PATCH /goals/{id}/entries/{entry_id} {amount?, note?, occurred_at?} : 200
-- {"entry"}; 404 unless the caller's goal and an entry of it. A changed
-- amount sets or clears the goal's completed_at (the entries trigger).
CREATE OR REPLACE FUNCTION api.update_goal_entry(ctx request.context, id bigint, entry_id bigint, amount numeric,
                                                 note text, occurred_at text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_goal tracking.goals;
  v_problems jsonb;
  v_entry tracking.goal_entries;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_goal := tracking.own_goal(v_session.account_id, update_goal_entry.id, lock => true);
  PERFORM FROM tracking.goal_entries e WHERE e.id = update_goal_entry.entry_id AND e.goal_id = v_goal.id;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such entry');
  END IF;
  v_problems := tracking.entry_problems(update_goal_entry.amount, update_goal_entry.note, update_goal_entry.occurred_at);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  UPDATE tracking.goal_entries e
     SET amount = coalesce(update_goal_entry.amount, e.amount),
         note = coalesce(update_goal_entry.note, e.note),
         occurred_at = coalesce(tracking.parse_timestamp(update_goal_entry.occurred_at), e.occurred_at)
   WHERE e.id = update_goal_entry.entry_id
  RETURNING * INTO v_entry;
  RETURN json_build_object('entry', tracking.entry_json(v_entry));
END
$$;

-- DELETE /goals/{id}/entries/{entry_id} : 204; 404 unless the caller's goal
-- and an entry of it. The goal's completed_at follows (the entries trigger).
CREATE OR REPLACE FUNCTION api.delete_goal_entry(ctx request.context, id bigint, entry_id bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_goal tracking.goals;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_goal := tracking.own_goal(v_session.account_id, delete_goal_entry.id, lock => true);
  DELETE FROM tracking.goal_entries e WHERE e.id = delete_goal_entry.entry_id AND e.goal_id = v_goal.id;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such entry');
  END IF;
  RETURN NULL;
END
$$;
