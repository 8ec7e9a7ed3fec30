-- A deliberately unsafe migration (never applied): scripts/test checks that
-- squawk reports each change below under its rule. tests/squawk/good does the
-- same changes the safe way. blog.posts stands for any populated table.

-- require-concurrent-index-creation: blocks writes for the whole build.
CREATE INDEX posts_published_at_idx ON blog.posts (published_at);

-- adding-field-with-default: a volatile default rewrites the table under an
-- ACCESS EXCLUSIVE lock.
ALTER TABLE blog.posts ADD COLUMN imported_at timestamptz NOT NULL DEFAULT clock_timestamp();

-- adding-not-nullable-field: scans the table under an ACCESS EXCLUSIVE lock.
ALTER TABLE blog.posts ALTER COLUMN title SET NOT NULL;

---- create above / drop below ----

-- Not linted (down sections drop things on purpose): ban-drop-column would
-- fire here, and scripts/test checks that it does not.
ALTER TABLE blog.posts ALTER COLUMN title DROP NOT NULL;
ALTER TABLE blog.posts DROP COLUMN imported_at;
DROP INDEX blog.posts_published_at_idx;
