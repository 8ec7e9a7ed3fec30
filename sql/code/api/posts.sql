-- ============================================================================
-- api: posts (/posts)
-- ============================================================================
-- Conventions as in sessions.sql. Reading is public (the GET routes take the
-- context but need no token); writing needs a session: POST for role author
-- or admin, PATCH and DELETE for the post's author or an admin. Order of the
-- checks: 401 (session), 404 (no such post), 403 (not allowed), 422 (fields),
-- so a caller who may not write learns nothing from validation. Changes are
-- logged (source publishing) in the same transaction.

-- GET /posts?limit=&before= : 200 {"posts": [...], "next"}
-- Newest first (date, then id), without content. limit is 1–100, default 20;
-- before is the "next" of the previous page, an opaque cursor over
-- (created_at, id), list 'posts': a page never repeats or skips a post because others were
-- written meanwhile. A cursor this route did not make is a 400.
CREATE OR REPLACE FUNCTION api.list_posts(ctx request.context, before text, row_limit bigint)
RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_at timestamptz;
  v_id bigint;
  v_limit integer;
  v_posts json;
  v_last_at timestamptz;
  v_last_id bigint;
  v_more boolean;
BEGIN
  v_limit := response.page_limit(row_limit);
  SELECT c.at, c.id INTO v_at, v_id FROM response.uncursor_id('posts', list_posts.before) c;

  -- One row more than the page tells whether there is a next page. Without
  -- a cursor, the bound is (infinity, 0): one row comparison either way,
  -- which the index on (created_at DESC, id DESC) serves at any depth.
  WITH page AS (
    SELECT p AS post, a AS author
      FROM publishing.posts p
      JOIN auth.accounts a ON a.id = p.author_id
     WHERE (p.created_at, p.id) < (coalesce(v_at, 'infinity'), coalesce(v_id, 0))
     ORDER BY p.created_at DESC, p.id DESC
     LIMIT v_limit + 1)
  SELECT coalesce(json_agg(publishing.post_json(pg.post, pg.author, false) ORDER BY pg.rn)
                    FILTER (WHERE pg.rn <= v_limit), '[]'),
         max((pg.post).created_at) FILTER (WHERE pg.rn = v_limit),
         max((pg.post).id) FILTER (WHERE pg.rn = v_limit),
         count(*) > v_limit
    INTO v_posts, v_last_at, v_last_id, v_more
    FROM (SELECT page.*, row_number() OVER (ORDER BY (page.post).created_at DESC, (page.post).id DESC) AS rn
            FROM page) pg;

  RETURN json_build_object('posts', v_posts,
                           'next', CASE WHEN v_more THEN response.cursor('posts', v_last_at, v_last_id::text) END);
END
$$;

-- GET /posts/{id} : 200 {"post": {..., "content"}}; 404 NOT_FOUND.
CREATE OR REPLACE FUNCTION api.get_post(ctx request.context, id bigint)
RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_post json := publishing.post_by_id(get_post.id);
BEGIN
  IF v_post IS NULL THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such post');
  END IF;
  RETURN json_build_object('post', v_post);
END
$$;

-- POST /posts {title, content, excerpt?} : 201 {"post": {...}}
-- Role author or admin (403 FORBIDDEN otherwise). title and excerpt are
-- trimmed; an absent or blank excerpt is publishing.default_excerpt of the
-- content. Logs INFO 'post created'.
CREATE OR REPLACE FUNCTION api.create_post(ctx request.context, title text, content text, excerpt text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_post publishing.posts;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  IF NOT publishing.may_publish(v_session.account_id) THEN
    PERFORM response.raise(403, 'FORBIDDEN', 'only authors and admins may publish posts');
  END IF;
  v_problems := jsonb_strip_nulls(jsonb_build_object(
                  'title', CASE WHEN create_post.title IS NULL THEN 'required' END,
                  'content', CASE WHEN create_post.content IS NULL THEN 'required' END))
                || publishing.post_problems(create_post.title, create_post.content, create_post.excerpt);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  INSERT INTO publishing.posts (title, author_id, excerpt, content)
  VALUES (publishing.trim_text(create_post.title), v_session.account_id,
          coalesce(nullif(publishing.trim_text(create_post.excerpt), ''), publishing.default_excerpt(create_post.content)),
          create_post.content)
  RETURNING * INTO v_post;
  PERFORM audit.write('INFO', 'publishing', 'post created', v_session.account_id,
                      jsonb_build_object('post_id', v_post.id, 'title', v_post.title), ctx);
  RETURN json_build_object('post', publishing.post_by_id(v_post.id));
END
$$;

-- PATCH /posts/{id} {title?, content?, excerpt?} : 200 {"post": {...}}
-- The post's author or an admin (403 FORBIDDEN otherwise; 404 NOT_FOUND
-- when there is no such post). An absent field is left alone. An empty (or
-- blank) excerpt goes back to the default one, from the content. An excerpt
-- that is the default one follows the content when the content changes; one
-- the author wrote stays. Logs INFO 'post updated' with the names of the
-- fields that changed, if any did (updated_at moves only then).
CREATE OR REPLACE FUNCTION api.update_post(ctx request.context, id bigint, title text, content text, excerpt text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_before publishing.posts;
  v_post publishing.posts;
  v_content text;
  v_excerpt text;
  v_changed text[];
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  SELECT * INTO v_before FROM publishing.posts p WHERE p.id = update_post.id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such post');
  END IF;
  IF NOT publishing.may_edit(v_session.account_id, v_before) THEN
    PERFORM response.raise(403, 'FORBIDDEN', 'only the post''s author or an admin may change it');
  END IF;
  v_problems := publishing.post_problems(update_post.title, update_post.content, update_post.excerpt);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  v_content := coalesce(update_post.content, v_before.content);
  v_excerpt := CASE
                 WHEN publishing.trim_text(update_post.excerpt) <> '' THEN publishing.trim_text(update_post.excerpt)
                 WHEN update_post.excerpt IS NOT NULL THEN publishing.default_excerpt(v_content)
                 WHEN v_before.excerpt = publishing.default_excerpt(v_before.content) THEN publishing.default_excerpt(v_content)
                 ELSE v_before.excerpt
               END;
  UPDATE publishing.posts p
     SET title = coalesce(publishing.trim_text(update_post.title), p.title),
         content = v_content,
         excerpt = v_excerpt
   WHERE p.id = v_before.id
  RETURNING * INTO v_post;

  v_changed := array_remove(ARRAY[
                 CASE WHEN v_post.title IS DISTINCT FROM v_before.title THEN 'title' END,
                 CASE WHEN v_post.content IS DISTINCT FROM v_before.content THEN 'content' END,
                 CASE WHEN v_post.excerpt IS DISTINCT FROM v_before.excerpt THEN 'excerpt' END], NULL);
  IF cardinality(v_changed) > 0 THEN
    PERFORM audit.write('INFO', 'publishing', 'post updated', v_session.account_id,
                        jsonb_build_object('post_id', v_post.id, 'changed', v_changed,
                                           'author', (SELECT a.username::text FROM auth.accounts a WHERE a.id = v_post.author_id)),
                        ctx);
  END IF;
  RETURN json_build_object('post', publishing.post_by_id(v_post.id));
END
$$;

-- DELETE /posts/{id} : 204. The post's author or an admin (403 FORBIDDEN
-- otherwise; 404 NOT_FOUND when there is no such post). Logs INFO 'post
-- deleted' with its title and author.
CREATE OR REPLACE FUNCTION api.delete_post(ctx request.context, id bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_post publishing.posts;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  SELECT * INTO v_post FROM publishing.posts p WHERE p.id = delete_post.id FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such post');
  END IF;
  IF NOT publishing.may_edit(v_session.account_id, v_post) THEN
    PERFORM response.raise(403, 'FORBIDDEN', 'only the post''s author or an admin may delete it');
  END IF;

  DELETE FROM publishing.posts p WHERE p.id = v_post.id;
  PERFORM audit.write('INFO', 'publishing', 'post deleted', v_session.account_id,
                      jsonb_build_object('post_id', v_post.id, 'title', v_post.title,
                                         'author', (SELECT a.username::text FROM auth.accounts a WHERE a.id = v_post.author_id)),
                      ctx);
  RETURN NULL;
END
$$;
