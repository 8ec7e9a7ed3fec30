---- tern: disable-tx ----
-- Two hardening changes of the lists (issues 15 and 21):
--
-- 1. The home feed's index carries expires_at (INCLUDE), so that the feed
--    finds a page's keys by an index-only scan and skips the activities that
--    expired since maintenance last ran on the index entries alone, without
--    reading their rows from the heap (api.home_feed, publishing.feed_keys).
--    A partial index cannot leave the expired ones out (now() is not
--    immutable), and expires_at cannot lead the key (the feed is ordered by
--    created_at), so the entries stay in the index until maintenance deletes
--    their rows; what changes is that passing one costs an index tuple, not
--    a heap fetch. An index-only scan reads the heap only for the pages the
--    visibility map does not mark all-visible, so autovacuum is told to
--    vacuum this insert-mostly table after 1% of new rows rather than 20%:
--    a burst of short-lived activities is all-visible within a minute or so.
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

-- The home feed's keys and expiry in one index (replaces activities_feed_idx).
CREATE INDEX CONCURRENTLY IF NOT EXISTS activities_feed_visible_idx
  ON publishing.activities (created_at DESC, uuid DESC) INCLUDE (expires_at)
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
DROP INDEX CONCURRENTLY IF EXISTS publishing.activities_feed_visible_idx;
DROP TABLE IF EXISTS auth.cursor_keys;
