-- The activity feed (the Cruddur seed): activities, likes and reposts in
-- schema publishing (created by 004).
--
-- The seed declared reply_to_activity_uuid as an integer; here it is a real
-- uuid foreign key. A reply goes with its parent (ON DELETE CASCADE): a
-- thread is deleted from its root down, so no reply is ever left pointing at
-- nothing or shown without its parent.
--
-- The counters (replies_count, reposts_count, likes_count) are kept by the
-- row-level triggers below, in the same transaction as the row they count:
-- each one is an `UPDATE … SET n = n ± 1` of the activity's row, which
-- serialises concurrent changes on that row's lock, so the counts stay
-- exact however many requests race. A like or repost is a row with a primary
-- key (account_id, activity_uuid), so "once per account" is the database's
-- to enforce, not the caller's.
--
-- Functions that use the tables are code: sql/code/publishing/activities.sql
-- and sql/code/api/activities.sql.

SET LOCAL search_path = pg_catalog, ext, pg_temp;

CREATE TABLE publishing.activities (
  uuid                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  author_id              bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
  message                text NOT NULL,
  replies_count          integer NOT NULL DEFAULT 0,
  reposts_count          integer NOT NULL DEFAULT 0,
  likes_count            integer NOT NULL DEFAULT 0,
  reply_to_activity_uuid uuid REFERENCES publishing.activities ON DELETE CASCADE,
  expires_at             timestamptz,
  created_at             timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT activities_message_length CHECK (char_length(message) BETWEEN 1 AND 280),
  CONSTRAINT activities_message_not_blank CHECK (message ~ '[^[:space:]]'),
  CONSTRAINT activities_counts_not_negative CHECK (replies_count >= 0 AND reposts_count >= 0 AND likes_count >= 0),
  CONSTRAINT activities_not_own_reply CHECK (reply_to_activity_uuid IS DISTINCT FROM uuid)
);
COMMENT ON TABLE publishing.activities IS
  'Short messages of the activity feed; a reply names its parent. Counters are kept by triggers. Invisible once expires_at has passed; api.maintenance deletes them later.';
COMMENT ON COLUMN publishing.activities.expires_at IS
  'NULL: never expires. A reply expires with its parent (the api copies the parent''s expires_at).';

-- The home feed: top-level activities, newest first (keyset on created_at, uuid).
CREATE INDEX activities_feed_idx ON publishing.activities (created_at DESC, uuid DESC)
  WHERE reply_to_activity_uuid IS NULL;
-- One author's activities, newest first; also serves the account's cascade.
CREATE INDEX activities_author_idx ON publishing.activities (author_id, created_at DESC, uuid DESC);
-- An activity's replies, oldest first; also serves the parent's cascade.
CREATE INDEX activities_replies_idx ON publishing.activities (reply_to_activity_uuid, created_at, uuid)
  WHERE reply_to_activity_uuid IS NOT NULL;
-- Maintenance: the expired ones, oldest expiry first.
CREATE INDEX activities_expires_idx ON publishing.activities (expires_at)
  WHERE expires_at IS NOT NULL;

CREATE TABLE publishing.likes (
  account_id    bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
  activity_uuid uuid NOT NULL REFERENCES publishing.activities ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT likes_pkey PRIMARY KEY (account_id, activity_uuid)
);
COMMENT ON TABLE publishing.likes IS 'One like per account and activity; counted in activities.likes_count.';
-- The activity's cascade looks likes up by activity.
CREATE INDEX likes_activity_idx ON publishing.likes (activity_uuid);

CREATE TABLE publishing.reposts (
  account_id    bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
  activity_uuid uuid NOT NULL REFERENCES publishing.activities ON DELETE CASCADE,
  created_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT reposts_pkey PRIMARY KEY (account_id, activity_uuid)
);
COMMENT ON TABLE publishing.reposts IS 'One repost per account and activity; counted in activities.reposts_count.';
CREATE INDEX reposts_activity_idx ON publishing.reposts (activity_uuid);

-- likes_count follows the likes rows. When the activity itself is being
-- deleted (the like goes with it by cascade), the UPDATE finds no row and
-- does nothing.
CREATE FUNCTION publishing.likes_count_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE publishing.activities a SET likes_count = a.likes_count + 1 WHERE a.uuid = NEW.activity_uuid;
  ELSE
    UPDATE publishing.activities a SET likes_count = a.likes_count - 1 WHERE a.uuid = OLD.activity_uuid;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER likes_count AFTER INSERT OR DELETE ON publishing.likes
  FOR EACH ROW EXECUTE FUNCTION publishing.likes_count_trigger();

-- reposts_count follows the reposts rows, as likes_count the likes.
CREATE FUNCTION publishing.reposts_count_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE publishing.activities a SET reposts_count = a.reposts_count + 1 WHERE a.uuid = NEW.activity_uuid;
  ELSE
    UPDATE publishing.activities a SET reposts_count = a.reposts_count - 1 WHERE a.uuid = OLD.activity_uuid;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER reposts_count AFTER INSERT OR DELETE ON publishing.reposts
  FOR EACH ROW EXECUTE FUNCTION publishing.reposts_count_trigger();

-- replies_count of the parent follows its replies (inserted, deleted by the
-- api, by their author's deletion or by maintenance).
CREATE FUNCTION publishing.replies_count_trigger() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE publishing.activities a SET replies_count = a.replies_count + 1 WHERE a.uuid = NEW.reply_to_activity_uuid;
  ELSE
    UPDATE publishing.activities a SET replies_count = a.replies_count - 1 WHERE a.uuid = OLD.reply_to_activity_uuid;
  END IF;
  RETURN NULL;
END
$$;

CREATE TRIGGER replies_count_insert AFTER INSERT ON publishing.activities
  FOR EACH ROW WHEN (NEW.reply_to_activity_uuid IS NOT NULL)
  EXECUTE FUNCTION publishing.replies_count_trigger();
CREATE TRIGGER replies_count_delete AFTER DELETE ON publishing.activities
  FOR EACH ROW WHEN (OLD.reply_to_activity_uuid IS NOT NULL)
  EXECUTE FUNCTION publishing.replies_count_trigger();

---- create above / drop below ----

-- CASCADE: the code package's functions take these tables' row types.
DROP TABLE publishing.reposts CASCADE;
DROP TABLE publishing.likes CASCADE;
DROP TABLE publishing.activities CASCADE;
DROP FUNCTION publishing.replies_count_trigger();
DROP FUNCTION publishing.reposts_count_trigger();
DROP FUNCTION publishing.likes_count_trigger();
