---- tern: disable-tx ----
-- Two hardening changes of the lists (issues 15 and 21):
--
-- 1. The home feed's index skips the activities that expired since
--    maintenance last ran without visiting them one by one: a GiST index
--    (btree_gist) over (created_at, coalesce(expires_at, 'infinity')), so
--    that every inner page of the index holds the range of expiry times
--    below it, and the feed's expiry test (> now()) prunes a whole subtree
--    of expired entries at once. 50k activities of a flood, each with a
--    2 s lifetime, are one run of created_at, hence a few subtrees: the first
--    page passes them in a handful of index pages instead of walking 50k
--    B-tree entries. A partial index cannot leave the expired ones out
--    (now() is not immutable), and a B-tree cannot lead with expires_at
--    (the feed is ordered by created_at). GiST returns rows in created_at
--    order only by distance (created_at <-> an anchor), never by uuid, so
--    publishing.feed_keys uses the distance order to find the page's
--    oldest created_at and reads the page exactly afterwards. uuid and
--    expires_at are INCLUDEd: the keys come from an index-only scan.
--    An index-only scan reads the heap only for the pages the visibility
--    map does not mark all-visible, so autovacuum is told to vacuum this
--    insert-mostly table after 1% of new rows rather than 20%.
--
-- 2. The key that signs every list's cursor (response.cursor makes one,
--    response.uncursor reads one: an HMAC-SHA-256 over the cursor's list
--    name and position). A table the gateway role has no privilege on, as
--    for every table; the newest row at least a minute old signs, and every
--    row verifies: the one before the newest still reads the cursors made
--    before the last rotation (response.rotate_cursor_key, which deletes
--    older ones; `scripts/db rotate-cursor-key`).
--
-- tern runs this file statement by statement outside a transaction (the
-- magic line above), as CREATE INDEX CONCURRENTLY requires; every
-- statement is safe to run again after a failure (a failed concurrent build
-- leaves an INVALID index behind: drop it first).

CREATE TABLE IF NOT EXISTS auth.cursor_keys (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  secret     bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT cursor_keys_secret_length CHECK (octet_length(secret) >= 32)
);
COMMENT ON TABLE auth.cursor_keys IS
  'Keys of the cursors'' HMAC: the newest at least a minute old signs, every row verifies. Rotated by response.rotate_cursor_key(); never readable by the gateway.';

-- The first key: 256 random bits, made here, in the database, so that it
-- never passes through a file or a log.
INSERT INTO auth.cursor_keys (secret)
SELECT ext.gen_random_bytes(32)
 WHERE NOT EXISTS (SELECT 1 FROM auth.cursor_keys);

-- btree_gist, trusted since PostgreSQL 13: the owner creates it, in ext as
-- every extension of the project (migration 001).
CREATE EXTENSION IF NOT EXISTS btree_gist WITH SCHEMA ext;

-- The home feed's keys and expiry in one index (replaces activities_feed_idx).
CREATE INDEX CONCURRENTLY IF NOT EXISTS activities_feed_gist_idx
  ON publishing.activities USING gist (created_at, coalesce(expires_at, 'infinity'))
  INCLUDE (uuid, expires_at)
  WHERE reply_to_activity_uuid IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS publishing.activities_feed_idx;

-- The visibility map kept fresh for the index-only scan above (a storage
-- parameter: a moment's SHARE UPDATE EXCLUSIVE lock, no rewrite).
BEGIN;
ALTER TABLE publishing.activities SET (autovacuum_vacuum_insert_scale_factor = 0.01);
COMMIT;

---- create above / drop below ----
---- tern: disable-tx ----
-- tern reads the magic line for each direction apart: the concurrent index
-- builds need it here too.

ALTER TABLE publishing.activities RESET (autovacuum_vacuum_insert_scale_factor);
CREATE INDEX CONCURRENTLY IF NOT EXISTS activities_feed_idx
  ON publishing.activities (created_at DESC, uuid DESC)
  WHERE reply_to_activity_uuid IS NULL;
DROP INDEX CONCURRENTLY IF EXISTS publishing.activities_feed_gist_idx;
-- CASCADE: publishing.feed_keys of the installed code package names
-- btree_gist's <-> and goes too (the previous release's package puts back
-- its own).
DROP EXTENSION IF EXISTS btree_gist CASCADE;
DROP TABLE IF EXISTS auth.cursor_keys;
