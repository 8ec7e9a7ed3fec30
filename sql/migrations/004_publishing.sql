-- Publishing: the blog's posts (the personal-website seed). The activity
-- feed's tables follow in 005.
--
-- Functions are code: sql/code/publishing/*.sql and sql/code/api/posts.sql.

CREATE SCHEMA publishing;
COMMENT ON SCHEMA publishing IS 'The blog (posts) and the activity feed (activities, likes, reposts).';

---- create above / drop below ----

DROP SCHEMA publishing CASCADE;
