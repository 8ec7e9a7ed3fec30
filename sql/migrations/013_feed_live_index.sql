---- tern: disable-tx ----
-- The home feed skips a run of just-expired activities (issue 15, item 3).
--
-- The feed's B-tree (activities_feed_visible_idx, migration 012) is read in
-- created_at order, and an activity that expired since maintenance last ran
-- stays in it until its row is deleted: a burst of 50k short-lived posts
-- costs every first page 50k index tuples. No B-tree can skip them: the
-- feed is ordered by created_at and filtered by expires_at, two dimensions.
--
-- This GiST index holds each top-level activity as the point (created_at,
-- expires_at) in epoch seconds (publishing.feed_point; no expiry is the far
-- future, 1e12). Its inner pages bound the points below them, so a query for
-- "created_at in a window, expires_at after now" passes a page of expired
-- points by its bounding box, without reading it. publishing.feed_keys reads
-- the B-tree first (the usual page: the first 2 × limit entries hold enough
-- visible ones) and turns to this index only when they do not: then it reads
-- windows of growing width below them, each an index-only scan of a few
-- pages however many expired points the window holds.
--
-- tern runs this file statement by statement outside a transaction (the
-- magic line above), as CREATE INDEX CONCURRENTLY requires; every statement
-- is safe to run again after a failure (a failed concurrent build leaves an
-- INVALID index behind: drop it first).

-- An activity as a point of the plane (created_at, expires_at), in seconds
-- since 1970, for the GiST index below and the queries that use it. The
-- epoch of a timestamptz does not depend on the time zone, so this is
-- immutable although extract() in general is not; infinite and absent
-- values are clamped to ±1e12 s, so that no bounding box holds an infinity.
-- A table (its index) depends on it: it lives here, not in sql/code.
CREATE OR REPLACE FUNCTION publishing.feed_point(created_at timestamptz, expires_at timestamptz)
RETURNS point
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN point(greatest(least(extract(epoch FROM created_at), 1e12), -1e12)::float8,
             coalesce(greatest(least(extract(epoch FROM expires_at), 1e12), -1e12), 1e12)::float8);

-- INCLUDE the columns the feed's exact tests read, so that its window
-- queries are index-only scans (the planner cannot see that a column is
-- available through an index expression).
CREATE INDEX CONCURRENTLY IF NOT EXISTS activities_feed_live_idx
  ON publishing.activities USING gist (publishing.feed_point(created_at, expires_at))
  INCLUDE (created_at, uuid, expires_at)
  WHERE reply_to_activity_uuid IS NULL;

---- create above / drop below ----
---- tern: disable-tx ----
DROP INDEX CONCURRENTLY IF EXISTS publishing.activities_feed_live_idx;
DROP FUNCTION IF EXISTS publishing.feed_point(timestamptz, timestamptz);
