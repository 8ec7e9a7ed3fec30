-- Tracking: goals and their entries (the goals-tracker seed). The schema's
-- other tables (trackers, logs) come in later migrations.
--
-- A goal's progress is the sum of its entries' amounts, computed when read
-- (sql/code/tracking/goals.sql). completed_at is stored, since it records
-- when the target was first reached; the triggers below keep it right
-- whenever an entry is added, changed or removed, or the target changes.
--
-- Functions are code: sql/code/tracking/goals.sql and sql/code/api/goals.sql.

CREATE SCHEMA tracking;
COMMENT ON SCHEMA tracking IS 'Personal tracking: trackers, logs, goals and their entries (trackers and logs come later).';

CREATE TABLE tracking.goals (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id    bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
  title         text NOT NULL,
  description   text NOT NULL DEFAULT '',
  target_amount numeric,
  unit          text,
  due_date      date,
  created_at    timestamptz NOT NULL DEFAULT now(),
  -- When the entries' sum first reached target_amount; NULL again once it falls below.
  completed_at  timestamptz,
  CONSTRAINT goals_title_length CHECK (length(title) BETWEEN 1 AND 200),
  CONSTRAINT goals_title_not_blank CHECK (btrim(title) <> ''),
  CONSTRAINT goals_description_length CHECK (length(description) <= 2000),
  -- numeric holds NaN and ±Infinity, and NaN compares greater than any number.
  CONSTRAINT goals_target_amount_finite CHECK (target_amount NOT IN ('NaN', 'Infinity', '-Infinity')),
  CONSTRAINT goals_target_amount_range CHECK (target_amount > 0 AND target_amount < 1e15),
  CONSTRAINT goals_unit_length CHECK (length(unit) BETWEEN 1 AND 32),
  CONSTRAINT goals_completed_at_needs_target CHECK (completed_at IS NULL OR target_amount IS NOT NULL)
);
-- GET /goals: the caller's goals.
CREATE INDEX goals_account_id_idx ON tracking.goals (account_id);
COMMENT ON TABLE tracking.goals IS 'Goals of an account, with an optional target amount; progress is the sum of its entries.';

CREATE TABLE tracking.goal_entries (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  goal_id     bigint NOT NULL REFERENCES tracking.goals ON DELETE CASCADE,
  -- May be negative, to correct an earlier entry; NULL for a note alone.
  amount      numeric,
  note        text NOT NULL DEFAULT '',
  occurred_at timestamptz NOT NULL DEFAULT now(),
  created_at  timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT goal_entries_amount_finite CHECK (amount NOT IN ('NaN', 'Infinity', '-Infinity')),
  CONSTRAINT goal_entries_amount_range CHECK (abs(amount) < 1e15),
  CONSTRAINT goal_entries_note_length CHECK (length(note) <= 2000)
);
-- GET /goals/{id}/entries, newest first with a keyset cursor; also the sum per goal.
CREATE INDEX goal_entries_goal_id_occurred_at_id_idx ON tracking.goal_entries (goal_id, occurred_at DESC, id DESC);
COMMENT ON TABLE tracking.goal_entries IS 'Progress entries of a goal; their amounts add up to its progress.';

-- completed_at after an entry of the goal was added, changed or removed.
-- The goal's row lock serializes concurrent changes to its entries: the sum
-- is read in a statement after the lock is granted, so under READ COMMITTED
-- it sees every entry committed by the transaction that held the lock
-- before, and the last one to commit writes the right value. The lock is
-- FOR NO KEY UPDATE, which the KEY SHARE lock that the entry's foreign key
-- check took on the goal does not block: two concurrent inserts wait for
-- each other instead of deadlocking. A goal that is gone (deleted with its
-- entries by the cascade) is skipped.
CREATE FUNCTION tracking.goal_entries_refresh_completion() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_goal_id bigint;
  v_target numeric;
  v_progress numeric;
BEGIN
  FOR v_goal_id IN
    SELECT DISTINCT x.id
      FROM unnest(ARRAY[CASE WHEN TG_OP <> 'INSERT' THEN OLD.goal_id END,
                        CASE WHEN TG_OP <> 'DELETE' THEN NEW.goal_id END]) AS x(id)
     WHERE x.id IS NOT NULL
     ORDER BY x.id
  LOOP
    SELECT g.target_amount INTO v_target FROM tracking.goals g WHERE g.id = v_goal_id FOR NO KEY UPDATE;
    CONTINUE WHEN NOT FOUND;
    SELECT coalesce(sum(e.amount), 0) INTO v_progress FROM tracking.goal_entries e WHERE e.goal_id = v_goal_id;
    UPDATE tracking.goals g
       SET completed_at = CASE WHEN v_target IS NOT NULL AND v_progress >= v_target
                               THEN coalesce(g.completed_at, now()) END
     WHERE g.id = v_goal_id
       AND g.completed_at IS DISTINCT FROM CASE WHEN v_target IS NOT NULL AND v_progress >= v_target
                                                THEN coalesce(g.completed_at, now()) END;
  END LOOP;
  RETURN NULL;
END
$$;

CREATE TRIGGER goal_entries_refresh_completion
  AFTER INSERT OR DELETE OR UPDATE OF amount, goal_id ON tracking.goal_entries
  FOR EACH ROW EXECUTE FUNCTION tracking.goal_entries_refresh_completion();

-- completed_at after the target changed: set (keeping an earlier time) if the
-- entries reach the new target, NULL if they do not or there is none. The
-- UPDATE holds the goal's row lock, which entry changes take too (above).
CREATE FUNCTION tracking.goals_refresh_completion() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_progress numeric;
BEGIN
  SELECT coalesce(sum(e.amount), 0) INTO v_progress FROM tracking.goal_entries e WHERE e.goal_id = NEW.id;
  NEW.completed_at := CASE WHEN NEW.target_amount IS NOT NULL AND v_progress >= NEW.target_amount
                           THEN coalesce(NEW.completed_at, now()) END;
  RETURN NEW;
END
$$;

CREATE TRIGGER goals_refresh_completion
  BEFORE UPDATE OF target_amount ON tracking.goals
  FOR EACH ROW EXECUTE FUNCTION tracking.goals_refresh_completion();

---- create above / drop below ----

-- CASCADE: the installed code package's functions that take these row types go too.
DROP SCHEMA tracking CASCADE;
