---- tern: disable-tx ----
-- The feed's GiST index slimmed (migration 013 made it): the points alone,
-- no included columns.
--
-- Migration 013 included created_at, uuid and expires_at so that the
-- windows of publishing.feed_keys were index-only scans. That made each
-- entry about three times the size of its point: 139 MB at 1M activities
-- built row by row (the B-tree of the whole feed is 89 MB), memory that
-- every other page of the table competes with. Without them the index is
-- about a third of that (50 MB built at once on the same rows), inserts write
-- less, and a window reads from the heap only the rows its boxes let
-- through: the visible ones of the window, a page's worth, never the
-- expired ones (docs/benchmarks.md, "A burst of just-expired activities").
--
-- The new index is built before the old one goes, so that the feed always
-- has one; tern runs this file statement by statement outside a
-- transaction (the magic line above), as CREATE INDEX CONCURRENTLY
-- requires; every statement is safe to run again after a failure (a failed
-- concurrent build leaves an INVALID index behind: drop it first).

CREATE INDEX CONCURRENTLY IF NOT EXISTS activities_feed_points_idx
  ON publishing.activities USING gist (publishing.feed_point(created_at, expires_at))
  WHERE reply_to_activity_uuid IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS publishing.activities_feed_live_idx;

---- create above / drop below ----
---- tern: disable-tx ----
CREATE INDEX CONCURRENTLY IF NOT EXISTS activities_feed_live_idx
  ON publishing.activities USING gist (publishing.feed_point(created_at, expires_at))
  INCLUDE (created_at, uuid, expires_at)
  WHERE reply_to_activity_uuid IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS publishing.activities_feed_points_idx;
