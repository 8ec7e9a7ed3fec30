-- Publishing: the blog's posts (the personal-website seed). The activity
-- feed's tables follow in 007_activities.sql.
--
-- Functions are code: sql/code/publishing/*.sql and sql/code/api/posts.sql.

CREATE SCHEMA publishing;
COMMENT ON SCHEMA publishing IS 'The blog (posts) and the activity feed (activities, likes, reposts).';

-- A blog post. created_at is the seed's `date` (the answers call it so);
-- updated_at is kept by the trigger below. The limits are the API's
-- (sql/code/publishing/posts.sql checks them first, to answer 422 with a
-- reason per field); these CHECKs hold whatever writes the table.
CREATE TABLE publishing.posts (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  title      text NOT NULL,
  -- Deleting the account deletes its posts, as it deletes everything it owns.
  author_id  bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
  -- Given by the author, or the start of the content (publishing.default_excerpt).
  excerpt    text NOT NULL,
  -- Markdown, stored as given.
  content    text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT posts_title_length CHECK (length(title) BETWEEN 1 AND 200),
  CONSTRAINT posts_title_not_blank CHECK (title ~ '[^[:space:]]'),
  CONSTRAINT posts_excerpt_length CHECK (length(excerpt) <= 300),
  CONSTRAINT posts_content_length CHECK (length(content) BETWEEN 1 AND 100000),
  CONSTRAINT posts_content_not_blank CHECK (content ~ '[^[:space:]]')
);
-- The listing's keyset order: newest first, the id breaking ties
-- (GET /posts?before= reads `(created_at, id) < (cursor)` from here).
CREATE INDEX posts_created_at_id_idx ON publishing.posts (created_at DESC, id DESC);
-- The foreign key's: deleting an account finds its posts without a scan.
CREATE INDEX posts_author_id_idx ON publishing.posts (author_id);
COMMENT ON TABLE publishing.posts IS 'Blog posts; read by anyone, written by accounts with role author or admin.';

-- updated_at is the time of the last change that changed something: an
-- UPDATE that leaves the row as it was (a PATCH with the same values)
-- leaves it alone.
CREATE FUNCTION publishing.posts_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END
$$;

CREATE TRIGGER posts_touch_updated_at
  BEFORE UPDATE ON publishing.posts
  FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*)
  EXECUTE FUNCTION publishing.posts_touch_updated_at();

---- create above / drop below ----

-- CASCADE: the installed code package's functions that take the row type go too.
DROP TABLE publishing.posts CASCADE;
DROP FUNCTION publishing.posts_touch_updated_at();
DROP SCHEMA publishing CASCADE;
