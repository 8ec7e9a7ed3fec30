---- tern: disable-tx ----
-- The changes of tests/squawk/bad done safely; squawk must find nothing.
-- tern runs a migration holding the line above statement by statement,
-- outside a transaction, as CREATE INDEX CONCURRENTLY requires; so every
-- step is safe to rerun after a failure, and explicit transactions group
-- what belongs together.

-- Builds the index without blocking writes. A failed build leaves an INVALID
-- index behind: drop it before running the migration again.
CREATE INDEX CONCURRENTLY IF NOT EXISTS posts_published_at_idx ON blog.posts (published_at);

-- The column without a default (no rewrite), then the default for new rows
-- only; existing rows are backfilled in batches before anything relies on it.
BEGIN;
ALTER TABLE blog.posts ADD COLUMN IF NOT EXISTS imported_at timestamptz;
ALTER TABLE blog.posts ALTER COLUMN imported_at SET DEFAULT clock_timestamp();
COMMIT;

-- NOT NULL without a scan under ACCESS EXCLUSIVE: a NOT VALID check is
-- validated under a SHARE UPDATE EXCLUSIVE lock, in its own transaction;
-- SET NOT NULL then trusts it (PostgreSQL 12+), and the check goes.
ALTER TABLE blog.posts DROP CONSTRAINT IF EXISTS posts_title_not_null;
ALTER TABLE blog.posts ADD CONSTRAINT posts_title_not_null CHECK (title IS NOT NULL) NOT VALID;
ALTER TABLE blog.posts VALIDATE CONSTRAINT posts_title_not_null;
BEGIN;
ALTER TABLE blog.posts ALTER COLUMN title SET NOT NULL;
ALTER TABLE blog.posts DROP CONSTRAINT IF EXISTS posts_title_not_null;
COMMIT;

---- create above / drop below ----
---- tern: disable-tx ----
-- tern reads the magic line for each direction apart: DROP INDEX
-- CONCURRENTLY needs it here too.

DROP INDEX CONCURRENTLY IF EXISTS blog.posts_published_at_idx;
BEGIN;
ALTER TABLE blog.posts ALTER COLUMN title DROP NOT NULL;
ALTER TABLE blog.posts DROP COLUMN IF EXISTS imported_at;
COMMIT;
