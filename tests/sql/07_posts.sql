-- Posts: the table (sql/migrations/004_publishing.sql), its helpers
-- (sql/code/publishing/posts.sql), the api functions of /posts
-- (sql/code/api/posts.sql), the DBA's auth.set_role (sql/code/auth.sql) and
-- the keyset cursor (response.cursor / response.uncursor; their signature
-- and binding to a list: tests/sql/16_cursors.sql). Calls run as the
-- gateway role with pg_temp.ctx (helpers.psql); fixtures and inspections as
-- the superuser (RESET ROLE). Raised errors are checked by SQLSTATE and the
-- code in DETAIL; committed 401s by the body's $status and code.
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(101);

\ir helpers.psql

-- The post JSON of a call's answer without the members that carry the time.
CREATE FUNCTION pg_temp.timeless(post jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE
RETURN post - 'id' - 'date' - 'updated_at';

-- Accounts: two authors, an admin, a plain user; a session for each.
INSERT INTO auth.accounts (username, email, password_hash, display_name)
VALUES ('tap07_ann', 'tap07.ann@example.com', auth.dummy_password_hash(), 'Ann A.'),
       ('tap07_bob', 'tap07.bob@example.com', auth.dummy_password_hash(), NULL),
       ('tap07_ada', 'tap07.ada@example.com', auth.dummy_password_hash(), NULL),
       ('tap07_usr', 'tap07.usr@example.com', auth.dummy_password_hash(), NULL);
SELECT id AS ann FROM auth.accounts WHERE username = 'tap07_ann' \gset
SELECT id AS ada FROM auth.accounts WHERE username = 'tap07_ada' \gset
SELECT auth.create_account_session('tap07_ann', 'UA-Ann') AS ann_tok \gset
SELECT auth.create_account_session('tap07_bob', 'UA-Bob') AS bob_tok \gset
SELECT auth.create_account_session('tap07_ada', 'UA-Ada') AS ada_tok \gset
SELECT auth.create_account_session('tap07_usr', 'UA-Usr') AS usr_tok \gset

-- ----------------------------------------------------------------------------
-- auth.set_role: the DBA's way to give a role; logged by the role trigger
-- ----------------------------------------------------------------------------
SELECT is(auth.set_role('TAP07_ANN', 'author')::jsonb, '{"username": "tap07_ann", "from": "user", "to": "author"}',
          'set_role finds the account ignoring case and answers from and to');
SELECT auth.set_role('tap07_bob', 'author') AS ignored \gset
SELECT auth.set_role('tap07_ada', 'admin') AS ignored \gset
SELECT is((SELECT role FROM auth.accounts WHERE id = :ann), 'author', 'set_role sets the role');
SELECT is((SELECT jsonb_build_object('level', level, 'source', source, 'message', message, 'account_id', account_id,
                                     'details', details)
             FROM audit.logs WHERE account_id = :ada ORDER BY id DESC LIMIT 1),
          jsonb_build_object('level', 'INFO', 'source', 'auth', 'message', 'role changed', 'account_id', :ada::bigint,
                             'details', jsonb_build_object('from', 'user', 'to', 'admin', 'by', session_user)),
          'the change is logged: INFO "role changed", from, to and by the database user who called set_role');
SELECT is(auth.set_role('tap07_ada', 'admin')::jsonb, '{"username": "tap07_ada", "from": "admin", "to": "admin"}',
          'setting the role an account has answers from = to');
SELECT is((SELECT count(*) FROM audit.logs WHERE account_id = :ada AND message = 'role changed'), 1::bigint,
          '... and logs nothing');
SELECT throws_ok($$SELECT auth.set_role('tap07_nobody', 'admin')$$, 'PT404', 'account tap07_nobody does not exist',
                 'an unknown account raises PT404');
SELECT throws_ok($$SELECT auth.set_role('tap07_ann', 'king')$$, 'PT422', 'role king does not exist; use user, author or admin',
                 'an unknown role raises PT422');
SELECT throws_ok($$SELECT auth.set_role('tap07_ann', NULL)$$, 'PT422', NULL, 'a NULL role raises PT422');
SELECT is((SELECT role FROM auth.accounts WHERE id = :ann), 'author', 'a refused change leaves the role alone');

-- ----------------------------------------------------------------------------
-- Privileges: the gateway executes the api functions, nothing else of posts
-- ----------------------------------------------------------------------------
SELECT ok(has_function_privilege('gateway', f, 'EXECUTE'), 'the gateway may execute ' || f)
  FROM unnest(ARRAY['api.list_posts(request.context, text, bigint)', 'api.get_post(request.context, bigint)',
                    'api.create_post(request.context, text, text, text)',
                    'api.update_post(request.context, bigint, text, text, text)',
                    'api.delete_post(request.context, bigint)']) f;
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'publishing' AND has_function_privilege('gateway', p.oid, 'EXECUTE')
$$, 'the gateway may execute no function of schema publishing');
SELECT ok(NOT has_function_privilege('gateway', 'auth.set_role(text, text)', 'EXECUTE'),
          'the gateway may not execute auth.set_role');
SET LOCAL ROLE gateway;
SELECT throws_ok('SELECT count(*) FROM publishing.posts', '42501', NULL, 'the gateway cannot read publishing.posts');
SELECT throws_ok($$SELECT auth.set_role('tap07_usr', 'admin')$$, '42501', NULL, 'the gateway cannot give itself a role');
SELECT throws_ok($$SELECT publishing.default_excerpt('x')$$, '42501', NULL, 'the gateway cannot call the helpers');
RESET ROLE;

-- ----------------------------------------------------------------------------
-- The default excerpt and the field checks
-- ----------------------------------------------------------------------------
SELECT is(publishing.trim_text(E'\u00a0 \t\x0b\f Kyiv\r\n'), 'Kyiv',
          'trimmed: spaces, tabs, line breaks, the vertical tab, the form feed and the no-break space');
SELECT is(publishing.trim_text('vivid v'), 'vivid v', 'a letter v at either end is kept');
SELECT is(publishing.default_excerpt(E'  # Title\n\n  Some   text.\t '), '# Title Some text.',
          'a short content is its own excerpt, trimmed, whitespace runs folded into one space');
SELECT is(publishing.default_excerpt(repeat('a', 300)), repeat('a', 300), 'exactly 300 characters: no cut, no ellipsis');
SELECT is(publishing.default_excerpt(repeat('abcd ', 100)), rtrim(repeat('abcd ', 59), ' ') || ' abcd…',
          'a long content is cut at the last word boundary before 300 characters, then "…"');
SELECT is(length(publishing.default_excerpt(repeat('abcd ', 100))), 300, '... which is 300 characters here');
SELECT is(publishing.default_excerpt(repeat('b', 298) || ' ccc'), repeat('b', 298) || '…',
          'a word that would be split is left out, not cut');
SELECT is(publishing.default_excerpt(repeat('d', 299) || ' ee'), repeat('d', 299) || '…',
          'a word ending at character 299 is kept whole');
SELECT is(publishing.default_excerpt(repeat('é', 400)), repeat('é', 299) || '…',
          'one word longer than the excerpt is cut inside it, at 299 characters (not bytes)');
SELECT is(publishing.post_problems(NULL, NULL, NULL), '{}', 'NULL fields are not checked');
SELECT is(publishing.post_problems(' Fine ', 'text', repeat('x', 300)), '{}', 'valid fields have no problems');
SELECT is(publishing.post_problems(E' \t\n ', ' ', repeat('x', 301)),
          '{"title": "must not be blank", "content": "must not be blank", "excerpt": "must be at most 300 characters"}',
          'a blank title, a blank content and an excerpt of 301 characters are problems');
SELECT is(publishing.post_problems(repeat('t', 201), repeat('c', 100001), '  ' || repeat('x', 300) || '  '),
          '{"title": "must be at most 200 characters", "content": "must be at most 100000 characters"}',
          'a title of 201 and a content of 100001 characters are problems; the excerpt is measured trimmed');

-- The table refuses what the API refuses, whoever writes it.
SELECT throws_ok(format($$INSERT INTO publishing.posts (title, author_id, excerpt, content) VALUES ('   ', %s, '', 'x')$$, :ann),
                 '23514', NULL, 'the table refuses a blank title');
SELECT throws_ok(format($$INSERT INTO publishing.posts (title, author_id, excerpt, content) VALUES ('t', %s, repeat('x', 301), 'x')$$, :ann),
                 '23514', NULL, 'the table refuses an excerpt of 301 characters');
SELECT throws_ok(format($$INSERT INTO publishing.posts (title, author_id, excerpt, content) VALUES ('t', %s, '', repeat('c', 100001))$$, :ann),
                 '23514', NULL, 'the table refuses a content of 100001 characters');

-- ----------------------------------------------------------------------------
-- api.create_post
-- ----------------------------------------------------------------------------
SET LOCAL ROLE gateway;
SELECT api.create_post(pg_temp.ctx(:'ann_tok', 'UA-Ann', request_id => 'tap07-create'), '  First post  ',
                       E'Hello *world*.\n\nSecond paragraph.  ', NULL) AS first \gset
SELECT :'first'::jsonb #>> '{post,id}' AS first_id \gset
SELECT is((SELECT array_agg(k) FROM jsonb_object_keys(:'first'::jsonb) k), ARRAY['post'], 'create_post answers {"post": ...}');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'first'::jsonb -> 'post') k),
          ARRAY['author', 'content', 'date', 'excerpt', 'id', 'title', 'updated_at'], 'the post JSON has exactly these members');
SELECT is(pg_temp.timeless(:'first'::jsonb -> 'post'),
          jsonb_build_object('title', 'First post', 'excerpt', 'Hello *world*. Second paragraph.',
                             'content', E'Hello *world*.\n\nSecond paragraph.  ',
                             'author', jsonb_build_object('username', 'tap07_ann', 'display_name', 'Ann A.')),
          'the title is trimmed, the content kept as given, the excerpt its start; author is username and display name');
SELECT is(ARRAY[(:'first'::jsonb #>> '{post,date}')::timestamptz, (:'first'::jsonb #>> '{post,updated_at}')::timestamptz],
          ARRAY[now(), now()], 'date and updated_at are the time of creation');
SELECT matches(:'first'::jsonb #>> '{post,date}', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', 'date is RFC 3339 in UTC');
SELECT is(pg_temp.timeless(api.create_post(pg_temp.ctx(:'ada_tok', 'UA-Ada'), 'By an admin', 'Body.', '  Own excerpt ')::jsonb -> 'post'),
          jsonb_build_object('title', 'By an admin', 'excerpt', 'Own excerpt', 'content', 'Body.',
                             'author', jsonb_build_object('username', 'tap07_ada', 'display_name', 'tap07_ada')),
          'an admin may publish; a given excerpt is kept, trimmed');
SELECT is(api.create_post(pg_temp.ctx(:'bob_tok', 'UA-Bob'), 'Blank excerpt', 'The body.', '   ')::jsonb #>> '{post,excerpt}',
          'The body.', 'a blank excerpt is the default one');
SELECT throws_ok(format('SELECT api.create_post(pg_temp.ctx(%L, %L), %L, %L, NULL)', :'usr_tok', 'UA-Usr', 'Mine', 'Text'),
                 'PT403', 'only authors and admins may publish posts', 'a plain user raises PT403');
SELECT is(pg_temp.error_of(format('SELECT api.create_post(pg_temp.ctx(%L, %L), NULL, NULL, NULL)', :'usr_tok', 'UA-Usr')) #>> '{detail,code}',
          'FORBIDDEN', '... with code FORBIDDEN, before any validation');
SELECT is(pg_temp.failure(format('SELECT api.create_post(pg_temp.ctx(%L, %L), %L, %L, NULL)', :'ann_tok', 'UA-Other', 'T', 'C')),
          '401 BROWSER', 'a token from another browser is a committed 401 BROWSER');
RESET ROLE;
SELECT auth.create_account_session('tap07_ann', 'UA-Ann') AS ann_tok \gset
SET LOCAL ROLE gateway;
SELECT throws_ok(format('SELECT api.create_post(pg_temp.ctx(%L, %L), NULL, NULL, NULL)', :'ann_tok', 'UA-Ann'),
                 'PT422', 'some fields are invalid', 'create_post without fields raises PT422');
SELECT is(pg_temp.error_of(format('SELECT api.create_post(pg_temp.ctx(%L, %L), NULL, NULL, NULL)', :'ann_tok', 'UA-Ann')) -> 'detail',
          '{"code": "VALIDATION", "details": {"title": "required", "content": "required"}}',
          'title and content are reported as required');
SELECT is(pg_temp.error_of(format('SELECT api.create_post(pg_temp.ctx(%L, %L), %L, %L, %L)', :'ann_tok', 'UA-Ann',
                                  '   ', repeat('c', 100001), repeat('e', 301))) #> '{detail,details}',
          '{"title": "must not be blank", "content": "must be at most 100000 characters", "excerpt": "must be at most 300 characters"}',
          'each bad field is reported');
SELECT is(pg_temp.error_of(format('SELECT api.create_post(pg_temp.ctx(%L, %L), %L, %L, NULL)', :'ann_tok', 'UA-Ann',
                                  repeat('t', 201), E'\n ')) #> '{detail,details}',
          '{"title": "must be at most 200 characters", "content": "must not be blank"}',
          'a title of 201 characters and a blank content are reported');
SELECT is(api.create_post(pg_temp.ctx(:'ann_tok', 'UA-Ann'), repeat('t', 200), repeat('c', 100000), repeat('e', 300))::jsonb
            #>> '{post,title}', repeat('t', 200), 'a title of 200, a content of 100000 and an excerpt of 300 characters are accepted');
RESET ROLE;
SELECT is((SELECT jsonb_build_object('level', level, 'source', source, 'message', message, 'account_id', account_id, 'details', details)
             FROM audit.logs WHERE request_id = 'tap07-create'),
          jsonb_build_object('level', 'INFO', 'source', 'publishing', 'message', 'post created', 'account_id', :ann::bigint,
                             'details', jsonb_build_object('post_id', :first_id::bigint, 'title', 'First post')),
          'creating a post logs INFO "post created" (source publishing) with its id and title');
SELECT is((SELECT count(*) FROM publishing.posts p JOIN auth.accounts a ON a.id = p.author_id
            WHERE a.username::text = 'tap07_usr'), 0::bigint, 'the refused calls created nothing');

-- ----------------------------------------------------------------------------
-- api.get_post
-- ----------------------------------------------------------------------------
SET LOCAL ROLE gateway;
SELECT is(api.get_post(pg_temp.ctx(), :first_id)::jsonb, :'first'::jsonb, 'get_post answers the post as created, without a token');
SELECT throws_ok($$SELECT api.get_post(pg_temp.ctx(), 9223372036854775807)$$, 'PT404', 'no such post',
                 'a missing post raises PT404');
SELECT is(pg_temp.error_of($$SELECT api.get_post(pg_temp.ctx(), 9223372036854775807)$$) #>> '{detail,code}', 'NOT_FOUND',
          '... with code NOT_FOUND');
RESET ROLE;

-- ----------------------------------------------------------------------------
-- response.cursor / response.uncursor
-- ----------------------------------------------------------------------------
SELECT is((SELECT row(u.at, u.key)::text FROM response.uncursor('posts', response.cursor('posts', '2026-01-02 03:04:05.123456+00', '42')) u),
          row('2026-01-02 03:04:05.123456+00'::timestamptz, '42')::text,
          'uncursor(cursor(t, key)) gives t to the microsecond and key back');
SELECT matches(response.cursor('posts', now(), '9223372036854775807'), '^[A-Za-z0-9_-]+$', 'a cursor is base64url without padding');
SELECT is((SELECT row(u.at, u.key)::text FROM response.uncursor('posts', NULL) u), row(NULL::timestamptz, NULL::text)::text,
          'uncursor(NULL) is NULL and NULL');
SELECT throws_ok($$SELECT response.uncursor('posts', 'not a cursor!')$$, 'PT400', 'not a cursor from this route',
                 'a malformed cursor raises PT400');
SELECT is(pg_temp.error_of($$SELECT response.uncursor('posts', 'bm8gYmFy', 'after')$$) -> 'detail',
          '{"code": "BAD_REQUEST", "details": {"after": "is not a cursor from this route"}}',
          'a cursor without a separator is a BAD_REQUEST naming the parameter');

-- ----------------------------------------------------------------------------
-- api.list_posts: newest first, keyset pages
-- ----------------------------------------------------------------------------
-- Start from an empty table, then five posts: two share a date (the id
-- breaks the tie), one is from the future.
DELETE FROM publishing.posts;
INSERT INTO publishing.posts (title, author_id, excerpt, content, created_at, updated_at)
SELECT 'p' || n, :ann, 'e' || n, 'c' || n, d, d
  FROM (VALUES (1, now() - interval '3 days'), (2, now() - interval '2 days'), (3, now() - interval '2 days'),
               (4, now() - interval '1 day'), (5, now() + interval '1 hour')) v (n, d);
SELECT response.cursor('posts', created_at, id::text) AS p2_cursor FROM publishing.posts WHERE title = 'p2' \gset
SET LOCAL ROLE gateway;
SELECT is(api.list_posts(pg_temp.ctx(), NULL, NULL)::jsonb -> 'next', 'null', 'one page of everything: next is null');
SELECT is((SELECT array_agg(p ->> 'title') FROM jsonb_array_elements(api.list_posts(pg_temp.ctx(), NULL, NULL)::jsonb -> 'posts') p),
          ARRAY['p5', 'p4', 'p3', 'p2', 'p1'], 'posts come newest first, the larger id first on the same date');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(api.list_posts(pg_temp.ctx(), NULL, 1)::jsonb #> '{posts,0}') k),
          ARRAY['author', 'date', 'excerpt', 'id', 'title', 'updated_at'], 'a listed post has no content');
SELECT api.list_posts(pg_temp.ctx(), NULL, 2) AS page1 \gset
SELECT api.list_posts(pg_temp.ctx(), :'page1'::jsonb ->> 'next', 2) AS page2 \gset
SELECT api.list_posts(pg_temp.ctx(), :'page2'::jsonb ->> 'next', 2) AS page3 \gset
SELECT is(ARRAY(SELECT p ->> 'title' FROM jsonb_array_elements(:'page1'::jsonb -> 'posts') p)
          || ARRAY(SELECT p ->> 'title' FROM jsonb_array_elements(:'page2'::jsonb -> 'posts') p)
          || ARRAY(SELECT p ->> 'title' FROM jsonb_array_elements(:'page3'::jsonb -> 'posts') p),
          ARRAY['p5', 'p4', 'p3', 'p2', 'p1'], 'three pages of 2 hold every post once, in order, the tie split across pages');
SELECT is(:'page3'::jsonb -> 'next', 'null', 'the last page''s next is null');
SELECT ok(:'page1'::jsonb ->> 'next' ~ '^[A-Za-z0-9_-]+$', 'next is an opaque base64url string');
SELECT is(api.list_posts(pg_temp.ctx(), NULL, 5)::jsonb -> 'next', 'null', 'a page exactly as long as the rest has no next');
SELECT is(api.list_posts(pg_temp.ctx(), NULL, 4)::jsonb ->> 'next',
          :'p2_cursor',
          'next is the cursor of the last post of the page');
SELECT throws_ok($$SELECT api.list_posts(pg_temp.ctx(), NULL, 0)$$, 'PT422', 'some parameters are invalid', 'limit 0 raises PT422');
SELECT is(pg_temp.error_of($$SELECT api.list_posts(pg_temp.ctx(), NULL, 101)$$) -> 'detail',
          '{"code": "VALIDATION", "details": {"limit": "must be between 1 and 100"}}', 'limit 101 is a VALIDATION of limit');
SELECT is(jsonb_array_length(api.list_posts(pg_temp.ctx(), NULL, 100)::jsonb -> 'posts'), 5, 'limit 100 is allowed');
SELECT throws_ok($$SELECT api.list_posts(pg_temp.ctx(), 'garbage', NULL)$$, 'PT400', 'not a cursor from this route',
                 'a malformed cursor raises PT400');
RESET ROLE;
SELECT response.cursor('posts', now(), 'abc') AS bad_key, response.cursor('posts', now(), '99999999999999999999') AS big_key \gset
SET LOCAL ROLE gateway;
SELECT is(pg_temp.error_of(format('SELECT api.list_posts(pg_temp.ctx(), %L, NULL)', :'bad_key')) -> 'detail',
          '{"code": "BAD_REQUEST", "details": {"before": "is not a cursor from this route"}}',
          'a well-formed cursor whose key is not an id raises PT400 BAD_REQUEST');
SELECT throws_ok(format('SELECT api.list_posts(pg_temp.ctx(), %L, NULL)', :'big_key'), 'PT400', NULL,
                 'a key too large for an id raises PT400');
RESET ROLE;
DELETE FROM publishing.posts;
SET LOCAL ROLE gateway;
SELECT is(api.list_posts(pg_temp.ctx(), NULL, NULL)::jsonb, '{"posts": [], "next": null}', 'no posts: an empty list');

-- ----------------------------------------------------------------------------
-- api.update_post
-- ----------------------------------------------------------------------------
SELECT api.create_post(pg_temp.ctx(:'ann_tok', 'UA-Ann'), 'Ann''s', 'Original content.', NULL) #>> '{post,id}' AS p1 \gset
SELECT api.create_post(pg_temp.ctx(:'ann_tok', 'UA-Ann'), 'Ann''s other', 'Other content.', 'Written excerpt') #>> '{post,id}' AS p2 \gset
RESET ROLE;
-- Backdated with triggers off (session_replication_role), or the trigger
-- would set updated_at to now.
SET LOCAL session_replication_role = replica;
UPDATE publishing.posts SET created_at = now() - interval '1 day', updated_at = now() - interval '1 day';
SELECT is((SELECT count(*) FROM publishing.posts WHERE updated_at = now() - interval '1 day'), 2::bigint,
          'the two posts are backdated');
RESET session_replication_role;
SET LOCAL ROLE gateway;
SELECT is(pg_temp.timeless(api.update_post(pg_temp.ctx(:'ann_tok', 'UA-Ann', request_id => 'tap07-upd1'), :p1,
                                           ' New title ', NULL, NULL)::jsonb -> 'post'),
          jsonb_build_object('title', 'New title', 'excerpt', 'Original content.', 'content', 'Original content.',
                             'author', jsonb_build_object('username', 'tap07_ann', 'display_name', 'Ann A.')),
          'the author changes the title (trimmed); the rest stays');
SELECT is(((api.get_post(pg_temp.ctx(), :p1)::jsonb) #>> '{post,updated_at}')::timestamptz, now(),
          'the trigger moved updated_at to the time of the change');
SELECT is(((api.get_post(pg_temp.ctx(), :p1)::jsonb) #>> '{post,date}')::timestamptz, now() - interval '1 day',
          '... and left the date alone');
SELECT is(api.update_post(pg_temp.ctx(:'ann_tok', 'UA-Ann'), :p1, NULL, 'Rewritten content.', NULL)::jsonb #>> '{post,excerpt}',
          'Rewritten content.', 'a default excerpt follows the content');
SELECT is(api.update_post(pg_temp.ctx(:'ann_tok', 'UA-Ann'), :p2, NULL, 'Rewritten other.', NULL)::jsonb #>> '{post,excerpt}',
          'Written excerpt', 'a written excerpt stays when the content changes');
SELECT is(api.update_post(pg_temp.ctx(:'ann_tok', 'UA-Ann'), :p2, NULL, NULL, '')::jsonb #>> '{post,excerpt}',
          'Rewritten other.', 'an empty excerpt goes back to the default one');
SELECT is(api.update_post(pg_temp.ctx(:'ann_tok', 'UA-Ann'), :p2, NULL, NULL, ' Again mine ')::jsonb #>> '{post,excerpt}',
          'Again mine', 'an excerpt can be set (trimmed)');
SELECT is(pg_temp.timeless(api.update_post(pg_temp.ctx(:'ada_tok', 'UA-Ada', request_id => 'tap07-upd2'), :p2,
                                           'By the admin', 'Admin''s content.', 'Admin''s excerpt')::jsonb -> 'post'),
          jsonb_build_object('title', 'By the admin', 'excerpt', 'Admin''s excerpt', 'content', 'Admin''s content.',
                             'author', jsonb_build_object('username', 'tap07_ann', 'display_name', 'Ann A.')),
          'an admin may change another''s post, which keeps its author');
RESET ROLE;
SET LOCAL session_replication_role = replica;
UPDATE publishing.posts SET updated_at = now() - interval '1 hour' WHERE id = :p2;
RESET session_replication_role;
SET LOCAL ROLE gateway;
SELECT is(((api.update_post(pg_temp.ctx(:'ann_tok', 'UA-Ann', request_id => 'tap07-upd3'), :p2,
                            'By the admin', NULL, NULL)::jsonb) #>> '{post,updated_at}')::timestamptz,
          now() - interval '1 hour', 'a change to the same values leaves updated_at alone');
SELECT is(((api.update_post(pg_temp.ctx(:'ann_tok', 'UA-Ann'), :p2, NULL, NULL, NULL)::jsonb) #>> '{post,title}'),
          'By the admin', 'an empty change answers the post as it is');
SELECT throws_ok(format('SELECT api.update_post(pg_temp.ctx(%L, %L), %s, %L, NULL, NULL)', :'bob_tok', 'UA-Bob', :p1, 'Mine now'),
                 'PT403', 'only the post''s author or an admin may change it', 'another author raises PT403');
SELECT is(pg_temp.error_of(format('SELECT api.update_post(pg_temp.ctx(%L, %L), %s, %L, NULL, NULL)', :'usr_tok', 'UA-Usr', :p1, ''))
            #>> '{detail,code}', 'FORBIDDEN', 'a plain user gets FORBIDDEN, before any validation');
SELECT throws_ok(format('SELECT api.update_post(pg_temp.ctx(%L, %L), 9223372036854775807, %L, NULL, NULL)', :'ann_tok', 'UA-Ann', 'T'),
                 'PT404', 'no such post', 'a missing post raises PT404');
SELECT is(pg_temp.error_of(format('SELECT api.update_post(pg_temp.ctx(%L, %L), 9223372036854775807, NULL, NULL, NULL)', :'usr_tok', 'UA-Usr'))
            #>> '{detail,code}', 'NOT_FOUND', '... NOT_FOUND for anyone');
SELECT is(pg_temp.error_of(format('SELECT api.update_post(pg_temp.ctx(%L, %L), %s, %L, %L, %L)', :'ann_tok', 'UA-Ann', :p1,
                                  '  ', '', repeat('e', 301))) -> 'detail',
          '{"code": "VALIDATION", "details": {"title": "must not be blank", "content": "must not be blank", "excerpt": "must be at most 300 characters"}}',
          'a blank title, an empty content and a long excerpt raise PT422 VALIDATION, each reported');
RESET ROLE;
SELECT is((SELECT array_agg(jsonb_build_object('account_id', account_id, 'source', source, 'message', message, 'details', details) ORDER BY id)
             FROM audit.logs WHERE request_id IN ('tap07-upd1', 'tap07-upd2', 'tap07-upd3')),
          ARRAY[jsonb_build_object('account_id', :ann::bigint, 'source', 'publishing', 'message', 'post updated',
                                   'details', jsonb_build_object('post_id', :p1::bigint, 'changed', ARRAY['title'], 'author', 'tap07_ann')),
                jsonb_build_object('account_id', :ada::bigint, 'source', 'publishing', 'message', 'post updated',
                                   'details', jsonb_build_object('post_id', :p2::bigint, 'changed', ARRAY['title', 'content', 'excerpt'],
                                                                 'author', 'tap07_ann'))],
          'a change logs INFO "post updated" with the fields changed, by whom and whose post; no change logs nothing');

-- ----------------------------------------------------------------------------
-- api.delete_post
-- ----------------------------------------------------------------------------
SET LOCAL ROLE gateway;
SELECT throws_ok(format('SELECT api.delete_post(pg_temp.ctx(%L, %L), %s)', :'bob_tok', 'UA-Bob', :p1),
                 'PT403', 'only the post''s author or an admin may delete it', 'another author raises PT403');
SELECT is(pg_temp.error_of(format('SELECT api.delete_post(pg_temp.ctx(%L, %L), %s)', :'usr_tok', 'UA-Usr', :p1)) #>> '{detail,code}',
          'FORBIDDEN', 'a plain user gets FORBIDDEN');
SELECT is(api.delete_post(pg_temp.ctx(:'ann_tok', 'UA-Ann', request_id => 'tap07-del1'), :p1)::text, NULL,
          'the author deletes the post (NULL: 204)');
SELECT throws_ok(format('SELECT api.get_post(pg_temp.ctx(), %s)', :p1), 'PT404', NULL, 'the deleted post is gone');
SELECT throws_ok(format('SELECT api.delete_post(pg_temp.ctx(%L, %L), %s)', :'ann_tok', 'UA-Ann', :p1), 'PT404', 'no such post',
                 'deleting it again raises PT404');
SELECT is(pg_temp.error_of(format('SELECT api.delete_post(pg_temp.ctx(%L, %L), %s)', :'ann_tok', 'UA-Ann', :p1)) #>> '{detail,code}',
          'NOT_FOUND', '... with code NOT_FOUND');
SELECT is(api.delete_post(pg_temp.ctx(:'ada_tok', 'UA-Ada', request_id => 'tap07-del2'), :p2)::text, NULL,
          'an admin deletes another''s post');
RESET ROLE;
SELECT is((SELECT array_agg(jsonb_build_object('account_id', account_id, 'level', level, 'source', source, 'message', message,
                                               'details', details) ORDER BY id)
             FROM audit.logs WHERE request_id IN ('tap07-del1', 'tap07-del2')),
          ARRAY[jsonb_build_object('account_id', :ann::bigint, 'level', 'INFO', 'source', 'publishing', 'message', 'post deleted',
                                   'details', jsonb_build_object('post_id', :p1::bigint, 'title', 'New title', 'author', 'tap07_ann')),
                jsonb_build_object('account_id', :ada::bigint, 'level', 'INFO', 'source', 'publishing', 'message', 'post deleted',
                                   'details', jsonb_build_object('post_id', :p2::bigint, 'title', 'By the admin', 'author', 'tap07_ann'))],
          'a deletion logs INFO "post deleted" with the post''s id, title and author');

-- Deleting an account deletes its posts.
SET LOCAL ROLE gateway;
SELECT api.create_post(pg_temp.ctx(:'bob_tok', 'UA-Bob'), 'Bob''s', 'Bob''s content.', NULL) #>> '{post,id}' AS p3 \gset
RESET ROLE;
DELETE FROM auth.accounts WHERE username = 'tap07_bob';
SELECT is((SELECT count(*) FROM publishing.posts WHERE id = :p3), 0::bigint, 'deleting the account deleted its posts');

SELECT * FROM finish();
ROLLBACK;
