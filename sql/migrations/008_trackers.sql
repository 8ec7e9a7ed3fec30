-- Tracking: trackers and their logs (the MAD-2 tracker seed), in the schema
-- tracking of 006_goals.sql.
--
-- A tracker is of type note or numerical, fixed at creation; a numerical
-- tracker's logs carry a value, a note tracker's logs none (the triggers
-- below hold both rules for any writer). updated_at is kept by triggers:
-- changing a tracker, or adding, changing or deleting one of its logs, sets
-- it to now, so "most recently updated first" follows the logs too.
--
-- Functions are code: sql/code/tracking/trackers.sql and sql/code/api/trackers.sql.

CREATE TABLE tracking.trackers (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id    bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
  name          text NOT NULL,
  description   text NOT NULL DEFAULT '',
  type          text NOT NULL,
  -- Numerical trackers only: the unit of the values and what they measure.
  unit          text,
  what_to_track text,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT trackers_name_length CHECK (length(name) BETWEEN 1 AND 100),
  CONSTRAINT trackers_name_not_blank CHECK (btrim(name) <> ''),
  CONSTRAINT trackers_description_length CHECK (length(description) <= 2000),
  CONSTRAINT trackers_type_known CHECK (type IN ('note', 'numerical')),
  CONSTRAINT trackers_unit_length CHECK (length(unit) BETWEEN 1 AND 32),
  CONSTRAINT trackers_what_to_track_length CHECK (length(what_to_track) BETWEEN 1 AND 200),
  CONSTRAINT trackers_numerical_fields CHECK (type = 'numerical' OR (unit IS NULL AND what_to_track IS NULL))
);
-- Names are unique per account ignoring case (409 CONFLICT); also serves GET /trackers (the caller's trackers).
CREATE UNIQUE INDEX trackers_account_id_lower_name_key ON tracking.trackers (account_id, lower(name));
COMMENT ON TABLE tracking.trackers IS 'Trackers of an account: note (free text) or numerical (a value per log).';

CREATE TABLE tracking.logs (
  id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tracker_id         bigint NOT NULL REFERENCES tracking.trackers ON DELETE CASCADE,
  -- Required for a numerical tracker, absent for a note tracker (logs_check_value).
  value              numeric,
  note               text NOT NULL DEFAULT '',
  emotion            text,
  -- An optional reminder: a message needs a date.
  event_reminder_msg text,
  event_date         date,
  logged_at          timestamptz NOT NULL DEFAULT now(),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  -- numeric holds NaN and ±Infinity, and NaN compares greater than any number.
  CONSTRAINT logs_value_finite CHECK (value NOT IN ('NaN', 'Infinity', '-Infinity')),
  -- At most 15 significant digits, so that every value survives a JSON client's double.
  CONSTRAINT logs_value_digits CHECK (length(btrim(replace(trim_scale(abs(value))::text, '.', ''), '0')) <= 15),
  CONSTRAINT logs_note_length CHECK (length(note) <= 10000),
  CONSTRAINT logs_emotion_known CHECK (emotion IN ('happy', 'calm', 'neutral', 'tired', 'anxious', 'sad', 'angry')),
  CONSTRAINT logs_event_reminder_msg_length CHECK (length(event_reminder_msg) BETWEEN 1 AND 500),
  CONSTRAINT logs_event_reminder_needs_date CHECK (event_reminder_msg IS NULL OR event_date IS NOT NULL)
);
-- GET /trackers/{id}/logs, newest first with a keyset cursor and ?from=&to=; the series; count and last per tracker.
CREATE INDEX logs_tracker_id_logged_at_id_idx ON tracking.logs (tracker_id, logged_at DESC, id DESC);
COMMENT ON TABLE tracking.logs IS 'Logs of a tracker: a value (numerical trackers), a note, an emotion, an optional reminder.';

-- A tracker's updated_at on every change; its type is fixed at creation
-- (its logs were written for it).
CREATE FUNCTION tracking.trackers_before_update() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF NEW.type IS DISTINCT FROM OLD.type THEN
    RAISE EXCEPTION 'a tracker''s type is fixed at creation' USING ERRCODE = 'check_violation';
  END IF;
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE TRIGGER trackers_before_update
  BEFORE UPDATE ON tracking.trackers
  FOR EACH ROW EXECUTE FUNCTION tracking.trackers_before_update();

-- A log's value against its tracker's type (numerical: required; note:
-- absent), and its updated_at on every change.
CREATE FUNCTION tracking.logs_before_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_type text;
BEGIN
  SELECT t.type INTO v_type FROM tracking.trackers t WHERE t.id = NEW.tracker_id;
  IF v_type = 'numerical' AND NEW.value IS NULL THEN
    RAISE EXCEPTION 'a log of a numerical tracker needs a value' USING ERRCODE = 'check_violation';
  ELSIF v_type = 'note' AND NEW.value IS NOT NULL THEN
    RAISE EXCEPTION 'a log of a note tracker has no value' USING ERRCODE = 'check_violation';
  END IF;
  IF TG_OP = 'UPDATE' THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;

CREATE TRIGGER logs_before_write
  BEFORE INSERT OR UPDATE ON tracking.logs
  FOR EACH ROW EXECUTE FUNCTION tracking.logs_before_write();

-- Adding, changing or deleting a log bumps its tracker's updated_at (and the
-- old tracker's, should a log move). The row lock this UPDATE takes (FOR NO
-- KEY UPDATE) does not conflict with the KEY SHARE lock of a log's foreign
-- key check, so concurrent writers of one tracker's logs queue, never
-- deadlock. A tracker that is gone (deleted with its logs by the cascade)
-- is skipped; one already bumped in this transaction is not written again.
CREATE FUNCTION tracking.logs_touch_tracker() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  UPDATE tracking.trackers t
     SET updated_at = now()
   WHERE t.id IN (CASE WHEN TG_OP <> 'INSERT' THEN OLD.tracker_id END,
                  CASE WHEN TG_OP <> 'DELETE' THEN NEW.tracker_id END)
     AND t.updated_at IS DISTINCT FROM now();
  RETURN NULL;
END
$$;

CREATE TRIGGER logs_touch_tracker
  AFTER INSERT OR DELETE OR UPDATE ON tracking.logs
  FOR EACH ROW EXECUTE FUNCTION tracking.logs_touch_tracker();

COMMENT ON SCHEMA tracking IS 'Personal tracking: trackers and their logs, goals and their entries.';

---- create above / drop below ----

COMMENT ON SCHEMA tracking IS 'Personal tracking: trackers, logs, goals and their entries (trackers and logs come later).';
-- CASCADE: the installed code package's functions that take these row types go too.
DROP TABLE tracking.logs CASCADE;
DROP TABLE tracking.trackers CASCADE;
DROP FUNCTION tracking.logs_touch_tracker();
DROP FUNCTION tracking.logs_before_write();
DROP FUNCTION tracking.trackers_before_update();
