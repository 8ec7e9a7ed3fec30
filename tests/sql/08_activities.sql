-- The activity feed: the tables and triggers of sql/migrations/007_activities.sql,
-- the helpers of sql/code/publishing/activities.sql, the routes of
-- sql/code/api/activities.sql and the expired activities of api.maintenance.
-- Calls run as the gateway role, their context built by pg_temp.ctx
-- (helpers.psql); inspections and fixtures (backdated rows) as the superuser
-- (RESET ROLE).
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(119);

\ir helpers.psql

-- Fixtures: three accounts with a session each.
INSERT INTO auth.accounts (username, email, password_hash, display_name) VALUES
  ('tap08_ann', 'tap08.ann@example.com', auth.hash_password('ann password 1'), 'Ann A.'),
  ('tap08_bob', 'tap08.bob@example.com', auth.hash_password('bob password 1'), NULL),
  ('tap08_cy', 'tap08.cy@example.com', auth.hash_password('cy password 1'), NULL);
SELECT id AS ann FROM auth.accounts WHERE username = 'tap08_ann' \gset
SELECT id AS bob FROM auth.accounts WHERE username = 'tap08_bob' \gset
SELECT id AS cy FROM auth.accounts WHERE username = 'tap08_cy' \gset
SELECT auth.create_account_session('tap08_ann', 'UA-Ann') AS ann_t \gset
SELECT auth.create_account_session('tap08_bob', 'UA-Bob') AS bob_t \gset
SELECT auth.create_account_session('tap08_cy', 'UA-Cy') AS cy_t \gset

-- The tables.
SELECT has_table('publishing', 'activities', 'publishing.activities exists');
SELECT col_type_is('publishing', 'activities', 'reply_to_activity_uuid', 'uuid', 'reply_to_activity_uuid is a uuid (the seed''s integer was a bug)');
SELECT fk_ok('publishing', 'activities', 'reply_to_activity_uuid', 'publishing', 'activities', 'uuid',
             'reply_to_activity_uuid references activities');
SELECT col_is_pk('publishing', 'likes', ARRAY['account_id', 'activity_uuid'], 'one like per account and activity');
SELECT col_is_pk('publishing', 'reposts', ARRAY['account_id', 'activity_uuid'], 'one repost per account and activity');
SELECT throws_ok(format($$INSERT INTO publishing.activities (author_id, message) VALUES (%s, '   ')$$, :ann), '23514', NULL,
                 'the table refuses a blank message');
SELECT throws_ok(format($$INSERT INTO publishing.activities (author_id, message) VALUES (%s, repeat('x', 281))$$, :ann), '23514', NULL,
                 'the table refuses 281 characters');

-- Privileges: the gateway reads no table and runs no helper.
SET LOCAL ROLE gateway;
SELECT throws_ok('SELECT count(*) FROM publishing.activities', '42501', NULL, 'the gateway cannot read activities');
SELECT throws_ok('SELECT count(*) FROM publishing.likes', '42501', NULL, 'the gateway cannot read likes');
SELECT throws_ok('SELECT count(*) FROM publishing.reposts', '42501', NULL, 'the gateway cannot read reposts');
SELECT throws_ok($$SELECT publishing.message_problem('x')$$, '42501', NULL, 'the gateway cannot call the helpers');
RESET ROLE;
SELECT ok(has_function_privilege('gateway', 'api.home_feed(request.context, text, bigint)', 'EXECUTE')
          AND has_function_privilege('gateway', 'api.delete_activity(request.context, uuid)', 'EXECUTE'),
          'the gateway may execute the api functions');

-- The helpers.
SELECT is(publishing.message_problem(repeat('é', 280)), NULL, '280 characters (560 bytes) is a valid message');
SELECT is(publishing.message_problem(repeat('é', 281)), 'must be 1 to 280 characters', '281 characters is not');
SELECT is(publishing.message_problem(''), 'must be 1 to 280 characters', 'an empty message is not');
SELECT is(publishing.message_problem(E' \t\n '), 'must not be only whitespace', 'whitespace only is not');
SELECT is(publishing.message_problem(NULL), 'required', 'a missing message is required');
SELECT is(publishing.parse_timestamp('2030-01-31T12:00:00Z'), '2030-01-31 12:00:00+00'::timestamptz, 'RFC 3339 parses');
SELECT is(publishing.parse_timestamp('2030-01-31T12:00:00'), '2030-01-31 12:00:00+00'::timestamptz, 'without an offset it is UTC');
SELECT is(publishing.parse_timestamp('2030-02-31T12:00:00Z'), NULL, 'an impossible date is not a timestamp');
SELECT is(publishing.parse_timestamp('tomorrow'), NULL, 'words are not timestamps');
SELECT is(publishing.parse_timestamp('infinity'), NULL, 'infinity is not a timestamp');

SET LOCAL ROLE gateway;

-- api.create_activity: 201 {"activity"} with the documented members.
SELECT api.create_activity(pg_temp.ctx(:'ann_t', 'UA-Ann'), 'Hello from Ann', NULL) AS a1_json \gset
SELECT :'a1_json'::jsonb #>> '{activity,uuid}' AS a1 \gset
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'a1_json'::jsonb -> 'activity') k),
          ARRAY['author', 'created_at', 'expires_at', 'likes_count', 'message', 'replies_count', 'reply_to_activity_uuid',
                'reposts_count', 'uuid'], 'the activity JSON has exactly the documented members');
SELECT is((:'a1_json'::jsonb -> 'activity') - 'uuid' - 'created_at',
          '{"message": "Hello from Ann", "author": {"handle": "tap08_ann", "display_name": "Ann A."}, "replies_count": 0,
            "reposts_count": 0, "likes_count": 0, "reply_to_activity_uuid": null, "expires_at": null}'::jsonb,
          'create_activity answers the new activity, handle = username');
SELECT matches(:'a1_json'::jsonb #>> '{activity,created_at}', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', 'created_at is RFC 3339 in UTC');
SELECT is(api.create_activity(pg_temp.ctx(:'ann_t', 'UA-Ann'), 'Soon gone', '2099-01-01T00:00:00+02:00') #>> '{activity,expires_at}',
          '2098-12-31T22:00:00.000000Z', 'expires_at is parsed with its offset and answered in UTC');
SELECT api.create_activity(pg_temp.ctx(:'bob_t', 'UA-Bob'), 'Bob speaks', NULL) #>> '{activity,uuid}' AS b1 \gset

-- api.create_activity: errors.
SELECT throws_ok(format('SELECT api.create_activity(pg_temp.ctx(%L, %L), NULL, NULL)', :'ann_t', 'UA-Ann'), 'PT422', 'some fields are invalid',
                 'a missing message raises PT422');
SELECT is(pg_temp.error_of(format('SELECT api.create_activity(pg_temp.ctx(%L, %L), %L, NULL)', :'ann_t', 'UA-Ann', repeat('x', 281))) -> 'detail',
          '{"code": "VALIDATION", "details": {"message": "must be 1 to 280 characters"}}'::jsonb, '281 characters: 422 on message');
SELECT is(pg_temp.error_of(format('SELECT api.create_activity(pg_temp.ctx(%L, %L), %L, NULL)', :'ann_t', 'UA-Ann', '   ')) #> '{detail,details}',
          '{"message": "must not be only whitespace"}'::jsonb, 'whitespace only: 422 on message');
SELECT is(pg_temp.error_of(format('SELECT api.create_activity(pg_temp.ctx(%L, %L), %L, %L)', :'ann_t', 'UA-Ann', 'x', 'next tuesday')) - 'hint',
          '{"sqlstate": "PT422", "message": "some fields are invalid", "detail": {"code": "VALIDATION",
            "details": {"expires_at": "must be a timestamp such as 2030-01-31T12:00:00Z"}}}'::jsonb,
          'an expires_at that is no timestamp is a PT422 on expires_at, not a cast error');
SELECT is(pg_temp.error_of(format('SELECT api.create_activity(pg_temp.ctx(%L, %L), %L, %L)', :'ann_t', 'UA-Ann', 'x', '2001-01-01T00:00:00Z')) #> '{detail,details}',
          '{"expires_at": "must be in the future"}'::jsonb, 'a past expires_at: 422 on expires_at');
SELECT is(pg_temp.error_of(format('SELECT api.create_activity(pg_temp.ctx(%L, %L), %L, %L)', :'ann_t', 'UA-Ann', '', 'x')) #> '{detail,details}',
          '{"message": "must be 1 to 280 characters", "expires_at": "must be a timestamp such as 2030-01-31T12:00:00Z"}'::jsonb,
          'both fields are reported at once');

-- api.reply_to_activity: 201, the parent's replies_count +1 on every call.
SELECT api.reply_to_activity(pg_temp.ctx(:'bob_t', 'UA-Bob'), :'a1', 'Bob replies') AS r1_json \gset
SELECT :'r1_json'::jsonb #>> '{activity,uuid}' AS r1 \gset
SELECT is(:'r1_json'::jsonb #>> '{activity,reply_to_activity_uuid}', :'a1', 'the reply names its parent');
SELECT is(:'r1_json'::jsonb #>> '{activity,author,handle}', 'tap08_bob', '... and its own author');
SELECT api.reply_to_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a1', 'Cy replies') #>> '{activity,uuid}' AS r2 \gset
RESET ROLE;
-- One transaction has one now(): make Bob's reply the older.
UPDATE publishing.activities SET created_at = now() - interval '1 second' WHERE uuid = :'r1';
SET LOCAL ROLE gateway;
SELECT is(api.get_activity(pg_temp.ctx(), :'a1') #>> '{activity,replies_count}', '2', 'two replies: replies_count 2');
SELECT throws_ok(format('SELECT api.reply_to_activity(pg_temp.ctx(%L, %L), %L, NULL)', :'bob_t', 'UA-Bob', :'a1'), 'PT422',
                 'some fields are invalid', 'a reply without a message raises PT422');
SELECT throws_ok(format('SELECT api.reply_to_activity(pg_temp.ctx(%L, %L), %L, %L)', :'bob_t', 'UA-Bob', gen_random_uuid(), 'x'), 'PT404',
                 'no such activity', 'a reply to a missing activity raises PT404');
SELECT is(pg_temp.failure(format('SELECT api.reply_to_activity(pg_temp.ctx(%L, %L), %L, %L)', :'bob_t', 'UA-Other', :'a1', 'x')),
          '401 BROWSER', 'a session from another browser is a committed 401 BROWSER');
RESET ROLE;
SELECT auth.create_account_session('tap08_bob', 'UA-Bob') AS bob_t \gset
SET LOCAL ROLE gateway;

-- api.get_activity: the activity alone; its replies are a list of their own.
SELECT api.get_activity(pg_temp.ctx(), :'a1') AS g1 \gset
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'g1'::jsonb) k), ARRAY['activity'],
          'get_activity answers {"activity"}, without the replies');
-- api.list_replies: oldest first, keyset pages.
SELECT api.list_replies(pg_temp.ctx(), :'a1', NULL, NULL) AS rl \gset
SELECT is((SELECT array_agg(r ->> 'message' ORDER BY n) FROM jsonb_array_elements(:'rl'::jsonb -> 'replies') WITH ORDINALITY AS x(r, n)),
          ARRAY['Bob replies', 'Cy replies'], 'list_replies: the replies, oldest first');
SELECT is(:'rl'::jsonb -> 'next', 'null'::jsonb, '... in one page: next is null');
SELECT throws_ok(format('SELECT api.list_replies(pg_temp.ctx(), %L, NULL, NULL)', gen_random_uuid()), 'PT404', 'no such activity',
                 'the replies of a missing activity raise PT404');
SELECT is(pg_temp.error_of(format('SELECT api.list_replies(pg_temp.ctx(), %L, NULL, 101)', :'a1')) #> '{detail,details}',
          '{"limit": "must be between 1 and 100"}'::jsonb, 'list_replies: limit 101 is a 422 on limit');
SELECT throws_ok(format('SELECT api.list_replies(pg_temp.ctx(), %L, %L, NULL)', :'a1', 'garbage'), 'PT400',
                 'not a cursor from this route', 'list_replies: a bad cursor raises PT400');
-- 250 more replies to a thread of its own, in pairs sharing created_at (the
-- uuid breaks the tie): paged by 100 and by the default 20, every reply
-- comes once, in order, and the last page says so.
RESET ROLE;
INSERT INTO auth.accounts (username, email, password_hash) VALUES ('tap08_dee', 'tap08.dee@example.com', auth.dummy_password_hash())
RETURNING id AS dee \gset
INSERT INTO publishing.activities (author_id, message) VALUES (:dee, 'A busy thread') RETURNING uuid AS t1 \gset
INSERT INTO publishing.activities (author_id, message, reply_to_activity_uuid, created_at)
SELECT :dee, 'reply ' || i, :'t1', now() - interval '1 hour' + (i / 2) * interval '1 second'
  FROM generate_series(1, 250) i;
SELECT array_agg(uuid ORDER BY created_at, uuid) AS t1_all FROM publishing.activities WHERE reply_to_activity_uuid = :'t1' \gset
-- Pages through api.list_replies with this limit: every uuid in page order, and the page count.
CREATE FUNCTION pg_temp.all_replies(parent uuid, lim integer, OUT uuids uuid[], OUT pages integer) LANGUAGE plpgsql AS $$
DECLARE v_page json; v_before text;
BEGIN
  uuids := '{}';
  pages := 0;
  LOOP
    v_page := api.list_replies(pg_temp.ctx(), parent, v_before, lim);
    pages := pages + 1;
    uuids := uuids || ARRAY(SELECT (r ->> 'uuid')::uuid FROM json_array_elements(v_page -> 'replies') r);
    v_before := v_page ->> 'next';
    EXIT WHEN v_before IS NULL OR pages > 1000;
  END LOOP;
END
$$;
SET LOCAL ROLE gateway;
SELECT is((SELECT row(p.uuids, p.pages)::text FROM pg_temp.all_replies(:'t1', 100) p), row(:'t1_all'::uuid[], 3)::text,
          '250 replies in pages of 100: three pages, every reply once, oldest first');
SELECT is((SELECT row(p.uuids, p.pages)::text FROM pg_temp.all_replies(:'t1', NULL) p), row(:'t1_all'::uuid[], 13)::text,
          '... and in pages of the default 20: thirteen pages, the same replies in the same order');
SELECT is(json_array_length(api.list_replies(pg_temp.ctx(), :'t1', NULL, 50) -> 'replies'), 50, 'a page holds limit replies');
SELECT isnt(api.list_replies(pg_temp.ctx(), :'t1', NULL, 50) ->> 'next', NULL, '... and a next while more are left');
SELECT is(api.list_replies(pg_temp.ctx(), :'t1', NULL, 100)::jsonb #> '{replies,0}',
          api.get_activity(pg_temp.ctx(), (:'t1_all'::uuid[])[1])::jsonb -> 'activity',
          'a listed reply is the activity JSON');
SELECT throws_ok(format('SELECT api.get_activity(pg_temp.ctx(), %L)', gen_random_uuid()), 'PT404', 'no such activity',
                 'a missing activity raises PT404');
SELECT is(pg_temp.error_of(format('SELECT api.get_activity(pg_temp.ctx(), %L)', gen_random_uuid())) #>> '{detail,code}', 'NOT_FOUND',
          '... with code NOT_FOUND');

-- Likes: idempotent, counted once per account.
SELECT api.like_activity(pg_temp.ctx(:'bob_t', 'UA-Bob'), :'a1') AS ignored \gset
SELECT api.like_activity(pg_temp.ctx(:'bob_t', 'UA-Bob'), :'a1') AS ignored \gset
SELECT api.like_activity(pg_temp.ctx(:'bob_t', 'UA-Bob'), :'a1') AS ignored \gset
SELECT is(api.get_activity(pg_temp.ctx(), :'a1') #>> '{activity,likes_count}', '1', 'liking three times counts once');
SELECT api.like_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a1') AS ignored \gset
SELECT is(api.get_activity(pg_temp.ctx(), :'a1') #>> '{activity,likes_count}', '2', 'another account''s like counts');
SELECT is(api.like_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a1')::text, NULL, 'like answers nothing (204)');
SELECT api.unlike_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a1') AS ignored \gset
SELECT api.unlike_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a1') AS ignored \gset
SELECT is(api.get_activity(pg_temp.ctx(), :'a1') #>> '{activity,likes_count}', '1', 'unliking twice drops the count once');
SELECT api.unlike_activity(pg_temp.ctx(:'ann_t', 'UA-Ann'), :'a1') AS ignored \gset
SELECT is(api.get_activity(pg_temp.ctx(), :'a1') #>> '{activity,likes_count}', '1', 'unliking what was never liked changes nothing');
SELECT throws_ok(format('SELECT api.like_activity(pg_temp.ctx(%L, %L), %L)', :'bob_t', 'UA-Bob', gen_random_uuid()), 'PT404',
                 'no such activity', 'liking a missing activity raises PT404');
SELECT throws_ok(format('SELECT api.unlike_activity(pg_temp.ctx(%L, %L), %L)', :'bob_t', 'UA-Bob', gen_random_uuid()), 'PT404',
                 'no such activity', 'unliking a missing activity raises PT404');

-- Reposts: once per account; a second is a PT409 with the count unchanged.
SELECT is(api.repost_activity(pg_temp.ctx(:'bob_t', 'UA-Bob'), :'a1') #>> '{activity,reposts_count}', '1',
          'a repost answers the activity with reposts_count 1');
SELECT throws_ok(format('SELECT api.repost_activity(pg_temp.ctx(%L, %L), %L)', :'bob_t', 'UA-Bob', :'a1'), 'PT409',
                 'you have already reposted this activity', 'a second repost by the same account raises PT409');
SELECT is(pg_temp.error_of(format('SELECT api.repost_activity(pg_temp.ctx(%L, %L), %L)', :'bob_t', 'UA-Bob', :'a1')) #>> '{detail,code}',
          'CONFLICT', '... with code CONFLICT');
SELECT is(api.get_activity(pg_temp.ctx(), :'a1') #>> '{activity,reposts_count}', '1', '... and the count unchanged');
SELECT is(api.repost_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a1') #>> '{activity,reposts_count}', '2', 'another account reposts: 2');
SELECT api.unrepost_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a1') AS ignored \gset
SELECT api.unrepost_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a1') AS ignored \gset
SELECT is(api.get_activity(pg_temp.ctx(), :'a1') #>> '{activity,reposts_count}', '1', 'undoing a repost twice drops the count once');
SELECT is(api.repost_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a1') #>> '{activity,reposts_count}', '2', 'reposting again after undoing counts');
SELECT throws_ok(format('SELECT api.repost_activity(pg_temp.ctx(%L, %L), %L)', :'bob_t', 'UA-Bob', gen_random_uuid()), 'PT404',
                 'no such activity', 'reposting a missing activity raises PT404');
SELECT throws_ok(format('SELECT api.unrepost_activity(pg_temp.ctx(%L, %L), %L)', :'bob_t', 'UA-Bob', gen_random_uuid()), 'PT404',
                 'no such activity', 'undoing a repost of a missing activity raises PT404');

-- The home feed: top-level only, newest first, keyset pages.
RESET ROLE;
-- Five more of Cy's, at known times, so that the order is certain.
INSERT INTO publishing.activities (author_id, message, created_at)
SELECT :cy, 'cy ' || i, now() + i * interval '1 second' FROM generate_series(1, 5) i;
SET LOCAL ROLE gateway;
SELECT api.home_feed(pg_temp.ctx(), NULL, 3) AS p1 \gset
SELECT is((SELECT array_agg(x ->> 'message') FROM jsonb_array_elements(:'p1'::jsonb -> 'activities') x),
          ARRAY['cy 5', 'cy 4', 'cy 3'], 'the first page: newest first, limit 3');
SELECT isnt(:'p1'::jsonb ->> 'next', NULL, '... with a next cursor');
SELECT api.home_feed(pg_temp.ctx(), :'p1'::jsonb ->> 'next', 3) AS p2 \gset
SELECT is((SELECT array_agg(x ->> 'message') FROM jsonb_array_elements(:'p2'::jsonb -> 'activities') x),
          ARRAY['cy 2', 'cy 1'] || (SELECT array_agg(x ->> 'message') FROM jsonb_array_elements(api.home_feed(pg_temp.ctx(), NULL, 100)::jsonb -> 'activities') WITH ORDINALITY AS y(x, n) WHERE n = 6),
          'the second page continues where the first ended');
SELECT ok(NOT EXISTS (SELECT 1 FROM jsonb_array_elements(api.home_feed(pg_temp.ctx(), NULL, 100)::jsonb -> 'activities') x
                       WHERE x ->> 'reply_to_activity_uuid' IS NOT NULL), 'replies are not in the home feed');
SELECT is(jsonb_array_length(api.home_feed(pg_temp.ctx(), NULL, NULL)::jsonb -> 'activities') <= 20, true, 'the default page is at most 20');
SELECT throws_ok($$SELECT api.home_feed(pg_temp.ctx(), NULL, 0)$$, 'PT422', 'some parameters are invalid', 'limit 0 raises PT422');
SELECT is(pg_temp.error_of($$SELECT api.home_feed(pg_temp.ctx(), NULL, 101)$$) #> '{detail,details}', '{"limit": "must be between 1 and 100"}'::jsonb,
          'limit 101: 422 on limit');
SELECT throws_ok($$SELECT api.home_feed(pg_temp.ctx(), 'garbage', NULL)$$, 'PT400', 'not a cursor from this route', 'a bad cursor raises PT400');
RESET ROLE;
SELECT response.cursor('activities', now(), 'not-a-uuid') AS badcur \gset
SET LOCAL ROLE gateway;
SELECT throws_ok(format('SELECT api.home_feed(pg_temp.ctx(), %L, NULL)', :'badcur'), 'PT400',
                 'not a cursor from this route', 'a cursor whose key is no uuid raises PT400');

-- The last page says so.
SELECT api.home_feed(pg_temp.ctx(), NULL, 100) AS all_json \gset
SELECT is(:'all_json'::jsonb -> 'next', 'null'::jsonb, 'next is null on the last page');

-- One author's activities: top-level and replies, newest first; 404 for an unknown handle.
SELECT api.user_activities(pg_temp.ctx(), 'TAP08_BOB', NULL, NULL) AS ub \gset
SELECT is((SELECT array_agg(x ->> 'message') FROM jsonb_array_elements(:'ub'::jsonb -> 'activities') x),
          ARRAY['Bob speaks', 'Bob replies'], 'a user''s feed holds their activities and replies, newest first (any case of handle)');
SELECT is(jsonb_array_length(api.user_activities(pg_temp.ctx(), 'tap08_cy', NULL, 2)::jsonb -> 'activities'), 2, 'the user feed pages too');
SELECT throws_ok($$SELECT api.user_activities(pg_temp.ctx(), 'tap08_nobody', NULL, NULL)$$, 'PT404', 'no such user',
                 'an unknown handle raises PT404');
SELECT throws_ok($$SELECT api.user_activities(pg_temp.ctx(), 'tap08_bob', NULL, -1)$$, 'PT422', 'some parameters are invalid',
                 'a bad limit raises PT422 on the user feed');
SELECT throws_ok($$SELECT api.user_activities(pg_temp.ctx(), 'tap08_bob', 'x', NULL)$$, 'PT400', 'not a cursor from this route',
                 'a bad cursor raises PT400 on the user feed');

-- Expiry: invisible the moment it passes, with no job run.
SELECT api.create_activity(pg_temp.ctx(:'ann_t', 'UA-Ann'), 'Short-lived', '2099-01-01T00:00:00Z') #>> '{activity,uuid}' AS e1 \gset
SELECT api.reply_to_activity(pg_temp.ctx(:'bob_t', 'UA-Bob'), :'e1', 'reply to short-lived') AS e1r_json \gset
SELECT is(:'e1r_json'::jsonb #>> '{activity,expires_at}', '2099-01-01T00:00:00.000000Z', 'a reply takes its parent''s expiry');
RESET ROLE;
UPDATE publishing.activities SET expires_at = now() - interval '1 microsecond'
 WHERE uuid = :'e1' OR reply_to_activity_uuid = :'e1';
SET LOCAL ROLE gateway;
SELECT throws_ok(format('SELECT api.get_activity(pg_temp.ctx(), %L)', :'e1'), 'PT404', 'no such activity', 'an expired activity is a 404');
SELECT throws_ok(format('SELECT api.list_replies(pg_temp.ctx(), %L, NULL, NULL)', :'e1'), 'PT404', 'no such activity',
                 '... and so is the list of its replies');
SELECT ok(NOT EXISTS (SELECT 1 FROM jsonb_array_elements(api.home_feed(pg_temp.ctx(), NULL, 100)::jsonb -> 'activities') x
                       WHERE x ->> 'uuid' = :'e1'), 'an expired activity is not in the home feed');
SELECT ok(NOT EXISTS (SELECT 1 FROM jsonb_array_elements(api.user_activities(pg_temp.ctx(), 'tap08_bob', NULL, 100)::jsonb -> 'activities') x
                       WHERE x ->> 'message' = 'reply to short-lived'), 'its reply is not in its author''s feed either');
SELECT throws_ok(format('SELECT api.reply_to_activity(pg_temp.ctx(%L, %L), %L, %L)', :'bob_t', 'UA-Bob', :'e1', 'x'), 'PT404',
                 'no such activity', 'replying to an expired activity raises PT404');
SELECT throws_ok(format('SELECT api.like_activity(pg_temp.ctx(%L, %L), %L)', :'bob_t', 'UA-Bob', :'e1'), 'PT404',
                 'no such activity', 'liking an expired activity raises PT404');
SELECT throws_ok(format('SELECT api.delete_activity(pg_temp.ctx(%L, %L), %L)', :'ann_t', 'UA-Ann', :'e1'), 'PT404',
                 'no such activity', 'deleting an expired activity raises PT404');

-- api.delete_activity: author only; likes, reposts and replies go; the parent's count drops; logged.
SELECT throws_ok(format('SELECT api.delete_activity(pg_temp.ctx(%L, %L), %L)', :'bob_t', 'UA-Bob', :'a1'), 'PT403',
                 'only its author may delete an activity', 'another account''s delete raises PT403');
SELECT is(pg_temp.error_of(format('SELECT api.delete_activity(pg_temp.ctx(%L, %L), %L)', :'bob_t', 'UA-Bob', :'a1')) #>> '{detail,code}',
          'FORBIDDEN', '... with code FORBIDDEN');
SELECT throws_ok(format('SELECT api.delete_activity(pg_temp.ctx(%L, %L), %L)', :'bob_t', 'UA-Bob', gen_random_uuid()), 'PT404',
                 'no such activity', 'deleting a missing activity raises PT404');
SELECT api.like_activity(pg_temp.ctx(:'ann_t', 'UA-Ann'), :'r2') AS ignored \gset
SELECT is(api.delete_activity(pg_temp.ctx(:'cy_t', 'UA-Cy', request_id => 'tap08-del-reply'), :'r2')::text, NULL, 'a reply''s author deletes it (204)');
SELECT is(api.get_activity(pg_temp.ctx(), :'a1') #>> '{activity,replies_count}', '1', 'the parent''s replies_count drops');
SELECT api.like_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'r1') AS ignored \gset
SELECT api.delete_activity(pg_temp.ctx(:'ann_t', 'UA-Ann', ip => '192.0.2.8', request_id => 'tap08-del'), :'a1') AS ignored \gset
SELECT throws_ok(format('SELECT api.get_activity(pg_temp.ctx(), %L)', :'a1'), 'PT404', 'no such activity', 'a deleted activity is gone');
RESET ROLE;
SELECT is((SELECT count(*) FROM publishing.activities WHERE uuid IN (:'a1', :'r1', :'r2')), 0::bigint,
          'its replies went with it (a thread is deleted from its root)');
SELECT is((SELECT count(*) FROM publishing.likes WHERE activity_uuid IN (:'a1', :'r1', :'r2'))
          + (SELECT count(*) FROM publishing.reposts WHERE activity_uuid IN (:'a1', :'r1', :'r2')), 0::bigint,
          'its likes and reposts, and its replies'', went with it');
SELECT is((SELECT jsonb_build_object('level', level, 'source', source, 'message', message, 'account_id', account_id,
                                     'client_ip', host(client_ip), 'uuid', details ->> 'activity_uuid')
             FROM audit.logs WHERE request_id = 'tap08-del'),
          jsonb_build_object('level', 'INFO', 'source', 'publishing', 'message', 'activity deleted', 'account_id', :ann,
                             'client_ip', '192.0.2.8', 'uuid', :'a1'),
          'a deletion logs INFO "activity deleted", source publishing');
SELECT is((SELECT details ->> 'reply_to_activity_uuid' FROM audit.logs WHERE request_id = 'tap08-del-reply'), :'a1',
          'a reply''s deletion logs its parent');

-- Deleting an account: its activities, likes and reposts go, and the counts on others' activities follow.
SET LOCAL ROLE gateway;
SELECT api.create_activity(pg_temp.ctx(:'ann_t', 'UA-Ann'), 'Ann again', NULL) #>> '{activity,uuid}' AS a2 \gset
SELECT api.like_activity(pg_temp.ctx(:'bob_t', 'UA-Bob'), :'a2') AS ignored \gset
SELECT api.like_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a2') AS ignored \gset
SELECT api.repost_activity(pg_temp.ctx(:'bob_t', 'UA-Bob'), :'a2') AS ignored \gset
SELECT api.reply_to_activity(pg_temp.ctx(:'bob_t', 'UA-Bob'), :'a2', 'bob on a2') AS ignored \gset
SELECT api.reply_to_activity(pg_temp.ctx(:'cy_t', 'UA-Cy'), :'a2', 'cy on a2') AS ignored \gset
SELECT api.like_activity(pg_temp.ctx(:'ann_t', 'UA-Ann'), :'b1') AS ignored \gset
SELECT is((api.get_activity(pg_temp.ctx(), :'a2')::jsonb #> '{activity}') - 'uuid' - 'created_at' - 'message' - 'author' - 'expires_at' - 'reply_to_activity_uuid',
          '{"likes_count": 2, "reposts_count": 1, "replies_count": 2}'::jsonb, 'before: 2 likes, 1 repost, 2 replies');
SELECT is(api.delete_account(pg_temp.ctx(:'bob_t', 'UA-Bob'), 'bob password 1')::text, NULL, 'Bob deletes his account');
SELECT is((api.get_activity(pg_temp.ctx(), :'a2')::jsonb #> '{activity}') - 'uuid' - 'created_at' - 'message' - 'author' - 'expires_at' - 'reply_to_activity_uuid',
          '{"likes_count": 1, "reposts_count": 0, "replies_count": 1}'::jsonb, 'after: his like, repost and reply are uncounted');
SELECT throws_ok($$SELECT api.user_activities(pg_temp.ctx(), 'tap08_bob', NULL, NULL)$$, 'PT404', 'no such user', 'his feed is gone');
RESET ROLE;
SELECT is((SELECT count(*) FROM publishing.activities WHERE author_id = :bob) + (SELECT count(*) FROM publishing.likes WHERE account_id = :bob)
          + (SELECT count(*) FROM publishing.reposts WHERE account_id = :bob), 0::bigint, 'none of his rows remain');
SELECT is((SELECT likes_count FROM publishing.activities WHERE uuid = :'b1'), NULL, 'his activity went, with Ann''s like on it');

-- Counts stay exact over many rows: 30 accounts like, then 10 unlike.
INSERT INTO auth.accounts (username, email, password_hash)
SELECT 'tap08_n' || i, 'tap08.n' || i || '@example.com', auth.dummy_password_hash() FROM generate_series(1, 30) i;
INSERT INTO publishing.likes (account_id, activity_uuid)
SELECT id, :'a2' FROM auth.accounts WHERE username LIKE 'tap08\_n%';
SELECT is((SELECT likes_count FROM publishing.activities WHERE uuid = :'a2'), 31, 'one multi-row insert of 30 likes counts 30');
DELETE FROM publishing.likes WHERE activity_uuid = :'a2' AND account_id IN (SELECT id FROM auth.accounts WHERE username ~ '^tap08_n[0-9]$');
SELECT is((SELECT likes_count FROM publishing.activities WHERE uuid = :'a2'),
          (SELECT count(*)::integer FROM publishing.likes WHERE activity_uuid = :'a2'), 'after deleting 9, the count is the rows''');

-- api.maintenance: expired activities go in bounded batches, live ones stay.
INSERT INTO publishing.activities (author_id, message, expires_at, created_at)
SELECT :cy, 'expired ' || i, now() - interval '1 hour', now() - interval '2 hours' FROM generate_series(1, 3) i;
SELECT count(*) AS expired_before FROM publishing.activities WHERE expires_at <= now() \gset
SET LOCAL ROLE gateway;
SELECT api.maintenance('expired_activities', batch_size => 2) AS m1 \gset
SELECT is(:'m1'::jsonb ->> 'deleted', '2', 'a round deletes at most batch_size expired activities');
SELECT is(:'m1'::jsonb ->> 'more', 'true', '... and says more is left');
SELECT api.maintenance('expired_activities', batch_size => 100) AS m2 \gset
SELECT is((:'m2'::jsonb ->> 'deleted')::int, :expired_before - 2, 'the next round deletes the rest');
RESET ROLE;
SELECT is((SELECT count(*) FROM publishing.activities WHERE expires_at <= now()), 0::bigint, 'no expired activity is left');
SELECT is((SELECT count(*) FROM publishing.activities WHERE uuid = :'a2'), 1::bigint, 'live ones stay');
SELECT is((SELECT (details ->> 'expired_activities')::int FROM audit.logs WHERE source = 'db' AND message = 'maintenance'
            ORDER BY id DESC LIMIT 1), :expired_before - 2, 'the round logs the expired activities it deleted');

-- A thread too big for one batch: an expired root with 2,500 replies, one
-- of them with a chain of three replies below it (each reply takes its
-- parent's expires_at, as api.reply_to_activity does). Deleting the root
-- would take the whole thread by cascade in one statement; a round must
-- delete no more than its batch, replies before their parents.
INSERT INTO publishing.activities (author_id, message, expires_at, created_at)
VALUES (:cy, 'thread root', now() - interval '1 minute', now() - interval '3 hours') RETURNING uuid AS root \gset
INSERT INTO publishing.activities (author_id, message, reply_to_activity_uuid, expires_at, created_at)
SELECT :cy, 'thread reply ' || i, :'root', now() - interval '1 minute', now() - interval '2 hours' + i * interval '1 ms'
  FROM generate_series(1, 2500) i;
SELECT uuid AS r7 FROM publishing.activities WHERE message = 'thread reply 7' \gset
INSERT INTO publishing.activities (author_id, message, reply_to_activity_uuid, expires_at, created_at)
VALUES (:cy, 'reply to reply 7', :'r7', now() - interval '1 minute', now() - interval '1 hour') RETURNING uuid AS r7a \gset
INSERT INTO publishing.activities (author_id, message, reply_to_activity_uuid, expires_at, created_at)
VALUES (:cy, 'reply to that', :'r7a', now() - interval '1 minute', now() - interval '50 minutes') RETURNING uuid AS r7b \gset
INSERT INTO publishing.activities (author_id, message, reply_to_activity_uuid, expires_at, created_at)
VALUES (:cy, 'and to that', :'r7b', now() - interval '1 minute', now() - interval '40 minutes');
CREATE TEMP TABLE tap08_rounds (round integer, deleted integer, gone bigint, more boolean, root_left boolean);
DO $$
DECLARE r json; before bigint; n integer := 0;
BEGIN
  LOOP
    n := n + 1;
    before := (SELECT count(*) FROM publishing.activities);
    r := api.maintenance('expired_activities', 250);
    INSERT INTO tap08_rounds VALUES (n, (r ->> 'deleted')::int, before - (SELECT count(*) FROM publishing.activities),
                                     (r ->> 'more')::boolean,
                                     EXISTS (SELECT 1 FROM publishing.activities WHERE message = 'thread root'));
    EXIT WHEN NOT (r ->> 'more')::boolean OR n >= 20;
  END LOOP;
END
$$;
SELECT is((SELECT array_agg(gone ORDER BY round) FROM tap08_rounds), ARRAY[250, 250, 250, 250, 250, 250, 250, 250, 250, 250, 4]::bigint[],
          'a thread of 2,504 activities goes in 11 rounds of at most 250 rows (the batch), cascade included');
SELECT is_empty($$SELECT round FROM tap08_rounds WHERE gone <> deleted$$, 'no round deletes more than it counts (no cascade beyond its batch)');
SELECT is((SELECT array_agg(root_left ORDER BY round) FROM tap08_rounds), array_fill(true, ARRAY[10]) || false,
          'the root goes last, with the last of its replies');
SELECT is((SELECT count(*) FROM publishing.activities WHERE expires_at <= now()), 0::bigint, 'the whole thread is gone');
SELECT is((SELECT count(*) FROM publishing.activities WHERE uuid = :'a2'), 1::bigint, 'live ones stay');

SELECT * FROM finish();
ROLLBACK;
