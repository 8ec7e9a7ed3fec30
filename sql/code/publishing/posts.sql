-- ============================================================================
-- publishing: posts (tables: sql/migrations/004_publishing.sql)
-- ============================================================================
-- What the routes of sql/code/api/posts.sql share: the default excerpt, the
-- limits with their reasons, who may write, and the post JSON.

-- Surrounding whitespace (ASCII and the no-break space) is not part of a
-- title or an excerpt: "  Hello " is stored as "Hello". Content is stored
-- as given (Markdown may care). The vertical tab is \x0b: PostgreSQL's
-- escape strings have no \v (E'\v' is the letter v, which this once cut
-- from the ends of titles: "Kyiv" became "Kyi").
CREATE OR REPLACE FUNCTION publishing.trim_text(value text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN btrim(value, E' \t\n\r\f\x0b\u00a0');

-- The excerpt of a post whose author gave none: the start of the content,
-- its whitespace runs (line breaks included) folded into single spaces. Up
-- to 300 characters it is the whole folded content; past that, it is cut
-- at the last word boundary within the first 299 characters, followed by
-- "…" (300 at most in all). A first word longer than 299 characters is cut
-- inside. Markdown is not rendered: the excerpt is the text as typed.
CREATE OR REPLACE FUNCTION publishing.default_excerpt(content text) RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_text text := regexp_replace(publishing.trim_text(content), E'[\\s\u00a0]+', ' ', 'g');
  v_head text;
  v_cut text;
BEGIN
  IF length(v_text) <= 300 THEN
    RETURN v_text;
  END IF;
  v_head := left(v_text, 299);
  IF substr(v_text, 300, 1) = ' ' THEN
    v_cut := v_head;  -- the 299 characters end a word
  ELSE
    v_cut := regexp_replace(v_head, ' [^ ]*$', '');  -- drop the word the cut would split
  END IF;
  IF v_cut = '' OR strpos(v_head, ' ') = 0 THEN
    v_cut := v_head;  -- one word longer than the excerpt: cut inside it
  END IF;
  RETURN rtrim(v_cut, ' ') || '…';
END
$$;

-- Per-field problems with a post's fields, as {"field": "reason"}; empty
-- when all is well. NULL arguments are not checked (callers decide what is
-- required). title and excerpt are checked as stored, trimmed.
CREATE OR REPLACE FUNCTION publishing.post_problems(title text, content text, excerpt text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'title', CASE WHEN publishing.trim_text(title) = '' THEN 'must not be blank'
                  WHEN length(publishing.trim_text(title)) > 200 THEN 'must be at most 200 characters' END,
    'content', CASE WHEN content !~ '[^[:space:]]' THEN 'must not be blank'
                    WHEN length(content) > 100000 THEN 'must be at most 100000 characters' END,
    'excerpt', CASE WHEN length(publishing.trim_text(excerpt)) > 300 THEN 'must be at most 300 characters' END));
END;

-- Whether the account may write posts at all (POST /posts): role author or admin.
CREATE OR REPLACE FUNCTION publishing.may_publish(account_id bigint) RETURNS boolean
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT coalesce((SELECT a.role IN ('author', 'admin') FROM auth.accounts a WHERE a.id = may_publish.account_id), false);
END;

-- Whether the account may change or delete this post: its author (whatever
-- the author's role is now), or an admin.
CREATE OR REPLACE FUNCTION publishing.may_edit(account_id bigint, post publishing.posts) RETURNS boolean
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT post.author_id = may_edit.account_id
         OR coalesce((SELECT a.role = 'admin' FROM auth.accounts a WHERE a.id = may_edit.account_id), false);
END;

-- The post JSON: {id, title, excerpt, author: {username, display_name},
-- date, updated_at}, and content after them when with_content (a single
-- post; the list leaves it out). `date` is created_at.
CREATE OR REPLACE FUNCTION publishing.post_json(p publishing.posts, author auth.accounts, with_content boolean)
RETURNS json
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT CASE WHEN with_content
    THEN json_build_object('id', p.id, 'title', p.title, 'excerpt', p.excerpt,
                           'author', json_build_object('username', author.username, 'display_name', author.display_name),
                           'date', response.ts(p.created_at), 'updated_at', response.ts(p.updated_at),
                           'content', p.content)
    ELSE json_build_object('id', p.id, 'title', p.title, 'excerpt', p.excerpt,
                           'author', json_build_object('username', author.username, 'display_name', author.display_name),
                           'date', response.ts(p.created_at), 'updated_at', response.ts(p.updated_at))
  END;
END;

-- The post JSON of one post by id, with its content; NULL if there is none.
CREATE OR REPLACE FUNCTION publishing.post_by_id(id bigint) RETURNS json
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT publishing.post_json(p, a, true)
    FROM publishing.posts p JOIN auth.accounts a ON a.id = p.author_id
   WHERE p.id = post_by_id.id;
END;
