-- ============================================================================
-- tracking: goals and their entries (tables and the completed_at triggers:
-- sql/migrations/006_goals.sql)
-- ============================================================================

-- ----------------------------------------------------------------------------
-- Validation: per-field problems as {"field": "reason"}, empty when all is
-- well. NULL arguments are not checked (callers decide what is required).
-- The tables' CHECK constraints say the same; these name the field.
-- ----------------------------------------------------------------------------

-- A finite amount below 1e15 in absolute value, or why not.
CREATE OR REPLACE FUNCTION tracking.amount_problem(amount numeric) RETURNS text
LANGUAGE sql IMMUTABLE
RETURN CASE WHEN amount IN ('NaN', 'Infinity', '-Infinity') THEN 'must be a finite number'
            WHEN abs(amount) >= 1e15 THEN 'must be less than 1e15 in absolute value' END;

CREATE OR REPLACE FUNCTION tracking.goal_problems(title text, description text, target_amount numeric, unit text,
                                                  due_date text)
RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'title', CASE WHEN length(title) NOT BETWEEN 1 AND 200 OR btrim(title) = ''
                  THEN 'must be 1 to 200 characters, not all blank' END,
    'description', CASE WHEN length(description) > 2000 THEN 'must be at most 2000 characters' END,
    'target_amount', coalesce(tracking.amount_problem(target_amount),
                              CASE WHEN target_amount <= 0 THEN 'must be greater than 0' END),
    'unit', CASE WHEN length(unit) > 32 THEN 'must be at most 32 characters' END,
    'due_date', CASE WHEN due_date <> '' AND tracking.parse_date(due_date) IS NULL
                     THEN 'must be a date, YYYY-MM-DD' END));
END;

CREATE OR REPLACE FUNCTION tracking.entry_problems(amount numeric, note text, occurred_at text)
RETURNS jsonb
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'amount', tracking.amount_problem(amount),
    'note', CASE WHEN length(note) > 2000 THEN 'must be at most 2000 characters' END,
    'occurred_at', CASE WHEN occurred_at IS NOT NULL AND tracking.parse_timestamp(occurred_at) IS NULL
                        THEN 'must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z' END));
END;

-- ----------------------------------------------------------------------------
-- Reading
-- ----------------------------------------------------------------------------

-- The caller's goal, or 404 NOT_FOUND: another account's goal answers
-- exactly as one that does not exist. lock takes the row lock that the
-- completed_at trigger takes (FOR NO KEY UPDATE), before the entry is
-- written: one lock order for every writer of the goal's entries.
CREATE OR REPLACE FUNCTION tracking.own_goal(account_id bigint, goal_id bigint, lock boolean DEFAULT false)
RETURNS tracking.goals
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_goal tracking.goals;
BEGIN
  IF lock THEN
    SELECT * INTO v_goal FROM tracking.goals g WHERE g.id = own_goal.goal_id AND g.account_id = own_goal.account_id
       FOR NO KEY UPDATE;
  ELSE
    SELECT * INTO v_goal FROM tracking.goals g WHERE g.id = own_goal.goal_id AND g.account_id = own_goal.account_id;
  END IF;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such goal');
  END IF;
  RETURN v_goal;
END
$$;

-- A goal's progress: the sum of its entries' amounts, 0 without any.
CREATE OR REPLACE FUNCTION tracking.goal_progress(goal_id bigint) RETURNS numeric
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT coalesce(sum(e.amount), 0) FROM tracking.goal_entries e WHERE e.goal_id = goal_progress.goal_id;
END;

-- The goal JSON: its columns, progress and percent (progress / target × 100,
-- rounded to one decimal; null without a target). Numbers are JSON numbers.
CREATE OR REPLACE FUNCTION tracking.goal_json(g tracking.goals) RETURNS json
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT json_build_object('id', g.id, 'title', g.title, 'description', g.description,
                           'target_amount', g.target_amount, 'unit', g.unit,
                           'due_date', to_char(g.due_date, 'YYYY-MM-DD'),
                           'created_at', response.ts(g.created_at), 'completed_at', response.ts(g.completed_at),
                           'progress', p.progress,
                           'percent', round(p.progress / g.target_amount * 100, 1))
    FROM (SELECT tracking.goal_progress(g.id) AS progress) p;
END;

-- The entry JSON.
CREATE OR REPLACE FUNCTION tracking.entry_json(e tracking.goal_entries) RETURNS json
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT json_build_object('id', e.id, 'goal_id', e.goal_id, 'amount', e.amount, 'note', e.note,
                           'occurred_at', response.ts(e.occurred_at), 'created_at', response.ts(e.created_at));
END;
