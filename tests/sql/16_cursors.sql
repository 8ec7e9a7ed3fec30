-- Cursors bound to their list and signed (sql/code/response.sql:
-- response.cursor, response.uncursor, response.uncursor_id,
-- response.rotate_cursor_key; the keys in auth.cursor_keys,
-- sql/migrations/012): every list route reads its own cursors and refuses
-- the other lists', an altered cursor (any one bit) and a forged one; a new
-- key signs a minute after its rotation; a rotation keeps the previous
-- key's cursors readable, not older ones.
-- Runs as the superuser (the routes are SECURITY DEFINER; what the gateway
-- may not read is tests/sql/00_privileges.sql).
BEGIN;
SELECT plan(31);

\ir helpers.psql

-- The signatures: the list's name first; the old readers are gone.
SELECT has_function('response', 'cursor', ARRAY['text', 'timestamp with time zone', 'text'], 'response.cursor(list, at, key)');
SELECT has_function('response', 'uncursor', ARRAY['text', 'text', 'text'], 'response.uncursor(list, cursor, param)');
SELECT has_function('response', 'uncursor_id', ARRAY['text', 'text', 'text'], 'response.uncursor_id(list, cursor, param)');
SELECT hasnt_function('response', 'uncursor', ARRAY['text', 'text'], 'the reader without a list is gone');
SELECT hasnt_function('response', 'cursor', ARRAY['timestamp with time zone', 'text'], 'the maker without a list is gone');

-- Fixtures: an account with a session, a goal, a tracker, a thread.
INSERT INTO auth.accounts (username, email, password_hash)
VALUES ('tap14_ann', 'tap14.ann@example.com', auth.dummy_password_hash()) RETURNING id AS ann \gset
SELECT auth.create_account_session('tap14_ann', 'UA-14') AS tok \gset
SELECT set_config('tap14.token', :'tok', true) AS ignored \gset
SELECT set_config('tap14.goal', api.create_goal(request.context(token => :'tok', browser => 'UA-14'), 'Goal 14', NULL, NULL, NULL, NULL)
                                  #>> '{goal,id}', true) AS goal \gset
SELECT set_config('tap14.tracker', api.create_tracker(request.context(token => :'tok', browser => 'UA-14'), 'Tracker 14', NULL, 'note', NULL, NULL)
                                     #>> '{tracker,id}', true) AS tracker \gset
INSERT INTO publishing.activities (author_id, message) VALUES (:ann, 'tap14 thread') RETURNING uuid AS parent \gset
SELECT set_config('tap14.parent', :'parent', true) AS ignored \gset
SELECT ok(:'goal' ~ '^[0-9]+$' AND :'tracker' ~ '^[0-9]+$', 'fixtures: a goal and a tracker of the account');

-- Calls the route of a list with this cursor (limit 1): 'ok', the body's
-- committed $status, or the SQLSTATE it raised.
CREATE FUNCTION pg_temp.route(list text, cursor text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
  ctx request.context := request.context(token => current_setting('tap14.token'), browser => 'UA-14');
  v json;
BEGIN
  CASE list
    WHEN 'posts' THEN v := api.list_posts(ctx, cursor, 1);
    WHEN 'activities' THEN v := api.home_feed(ctx, cursor, 1);
    WHEN 'user_activities' THEN v := api.user_activities(ctx, 'tap14_ann', cursor, 1);
    WHEN 'replies' THEN v := api.list_replies(ctx, current_setting('tap14.parent')::uuid, cursor, 1);
    WHEN 'goal_entries' THEN v := api.list_goal_entries(ctx, current_setting('tap14.goal')::bigint, cursor, 1);
    WHEN 'tracker_logs' THEN v := api.list_tracker_logs(ctx, current_setting('tap14.tracker')::bigint, NULL, NULL, cursor, 1);
  END CASE;
  RETURN coalesce(v ->> '$status', 'ok');
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE;
END
$$;

-- A key of the type the list reads (a uuid or an id), so that only the
-- list's name tells a foreign cursor from the list's own.
CREATE FUNCTION pg_temp.key_for(list text) RETURNS text LANGUAGE sql IMMUTABLE
RETURN CASE WHEN list IN ('activities', 'user_activities', 'replies') THEN 'ffffffff-ffff-ffff-ffff-fffffffffff0' ELSE '123' END;

-- For the route of list `used`: what it answers to a cursor of each list, in this order.
CREATE FUNCTION pg_temp.answers(used text) RETURNS text[] LANGUAGE sql AS $$
  SELECT array_agg(pg_temp.route(used, response.cursor(made, '2026-05-01 12:00:00+00', pg_temp.key_for(used))) ORDER BY n)
    FROM unnest(ARRAY['posts', 'activities', 'user_activities', 'replies', 'goal_entries', 'tracker_logs'])
         WITH ORDINALITY AS l(made, n)
$$;

-- Every list reads its own cursor and refuses each of the five others' with
-- a 400 (the lists' order: posts, activities, user_activities, replies,
-- goal_entries, tracker_logs).
SELECT is(pg_temp.answers('posts'), ARRAY['ok', 'PT400', 'PT400', 'PT400', 'PT400', 'PT400'],
          'GET /posts reads its own cursor and refuses the five other lists''');
SELECT is(pg_temp.answers('activities'), ARRAY['PT400', 'ok', 'PT400', 'PT400', 'PT400', 'PT400'],
          'GET /activities reads its own cursor and refuses the five other lists''');
SELECT is(pg_temp.answers('user_activities'), ARRAY['PT400', 'PT400', 'ok', 'PT400', 'PT400', 'PT400'],
          'GET /users/{handle}/activities reads its own cursor and refuses the five other lists''');
SELECT is(pg_temp.answers('replies'), ARRAY['PT400', 'PT400', 'PT400', 'ok', 'PT400', 'PT400'],
          'GET /activities/{uuid}/replies reads its own cursor and refuses the five other lists''');
SELECT is(pg_temp.answers('goal_entries'), ARRAY['PT400', 'PT400', 'PT400', 'PT400', 'ok', 'PT400'],
          'GET /goals/{id}/entries reads its own cursor and refuses the five other lists''');
SELECT is(pg_temp.answers('tracker_logs'), ARRAY['PT400', 'PT400', 'PT400', 'PT400', 'PT400', 'ok'],
          'GET /trackers/{id}/logs reads its own cursor and refuses the five other lists''');
SELECT is(pg_temp.error_of(format('SELECT api.list_posts(request.context(), %L, NULL)',
                                  response.cursor('goal_entries', now(), '1'))) -> 'detail',
          '{"code": "BAD_REQUEST", "details": {"before": "is not a cursor from this route"}}',
          'a foreign cursor is a 400 BAD_REQUEST naming before');

-- Whether response.uncursor reads it (false: the 400).
CREATE FUNCTION pg_temp.accepted(list text, cursor text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
  PERFORM response.uncursor(list, cursor);
  RETURN true;
EXCEPTION WHEN SQLSTATE 'PT400' THEN
  RETURN false;
END
$$;
CREATE FUNCTION pg_temp.b64url(b bytea) RETURNS text LANGUAGE sql IMMUTABLE
RETURN rtrim(translate(encode(b, 'base64'), E'+/\n', '-_'), '=');
CREATE FUNCTION pg_temp.unb64url(t text) RETURNS bytea LANGUAGE sql IMMUTABLE
RETURN decode(rpad(translate(t, '-_', '+/'), (length(t) + 3) / 4 * 4, '='), 'base64');

SELECT response.cursor('posts', '2026-05-01 12:00:00.123456+00', '4242') AS c \gset
SELECT ok(pg_temp.accepted('posts', :'c'), 'the untouched cursor is read');
SELECT is((SELECT row(u.at, u.id)::text FROM response.uncursor_id('posts', :'c') u),
          row('2026-05-01 12:00:00.123456+00'::timestamptz, 4242::bigint)::text, '... to its timestamp (to the microsecond) and id');
-- One bit flipped anywhere in what the cursor encodes (each of its bytes, each bit).
SELECT is((SELECT count(*) FROM generate_series(0, length(pg_temp.unb64url(:'c')) * 8 - 1) AS bit
            WHERE pg_temp.accepted('posts', pg_temp.b64url(set_bit(pg_temp.unb64url(:'c'), bit, 1 - get_bit(pg_temp.unb64url(:'c'), bit))))),
          0::bigint, 'no cursor with one bit of its bytes flipped is read (every bit of every byte tried)');
-- One bit flipped in each character of the text itself (the low bit: a
-- character the alphabet may not hold, or one the last position ignores).
SELECT is((SELECT count(*) FROM generate_series(1, length(:'c')) AS i
            WHERE pg_temp.accepted('posts', overlay(:'c' PLACING chr(ascii(substr(:'c', i, 1)) # 1) FROM i FOR 1))),
          0::bigint, 'no cursor with one bit of one of its characters flipped is read');
SELECT ok(NOT pg_temp.accepted('posts', :'c' || 'A'), 'nor one with a character added');
SELECT ok(NOT pg_temp.accepted('posts', left(:'c', -1)), 'nor one cut short');
-- Forged: the same content signed with a key that is not the database's,
-- and the unsigned cursor of the previous release.
SELECT ok(NOT pg_temp.accepted('posts', pg_temp.b64url(p || ext.hmac(p, '\x00000000000000000000000000000000'::bytea, 'sha256'))),
          'a cursor signed with another key is refused')
  FROM (SELECT substr(pg_temp.unb64url(:'c'), 1, length(pg_temp.unb64url(:'c')) - 32) AS p) x;
SELECT ok(NOT pg_temp.accepted('posts', pg_temp.b64url(convert_to('2026-05-01T12:00:00.123456Z|4242', 'UTF8'))),
          'an unsigned cursor of the previous release is refused');

-- Key rotation: a new key signs a minute after the rotation (a replica has
-- it by then); the previous key still reads, an older one no longer. The key
-- id a cursor was signed with is its second field. Time passes by
-- backdating the keys' created_at (one transaction has one now()).
CREATE FUNCTION pg_temp.kid(cursor text) RETURNS bigint LANGUAGE sql IMMUTABLE
RETURN split_part(convert_from(substr(pg_temp.unb64url(cursor), 1, length(pg_temp.unb64url(cursor)) - 32), 'UTF8'), '|', 2)::bigint;
UPDATE auth.cursor_keys SET created_at = now() - interval '1 hour';
SELECT max(id) AS k1 FROM auth.cursor_keys \gset
SELECT response.cursor('activities', now(), gen_random_uuid()::text) AS before_1 \gset
SELECT response.rotate_cursor_key() AS k2 \gset
SELECT response.cursor('activities', now(), gen_random_uuid()::text) AS during_2 \gset
SELECT is(pg_temp.kid(:'during_2'), :k1::bigint, 'in the minute after a rotation, the previous key still signs');
SELECT ok(pg_temp.accepted('activities', pg_temp.b64url(convert_to('activities|' || :k2 || '|2026-05-01T12:00:00.000000Z|ffffffff-ffff-ffff-ffff-fffffffffff0', 'UTF8')
                                                       || ext.hmac(convert_to('activities|' || :k2 || '|2026-05-01T12:00:00.000000Z|ffffffff-ffff-ffff-ffff-fffffffffff0', 'UTF8'),
                                                                   (SELECT secret FROM auth.cursor_keys WHERE id = :k2), 'sha256'))),
          '... while the new key already reads');
UPDATE auth.cursor_keys SET created_at = now() - interval '61 seconds' WHERE id = :k2;
SELECT response.cursor('activities', now(), gen_random_uuid()::text) AS before_2 \gset
SELECT is(pg_temp.kid(:'before_2'), :k2::bigint, 'a minute after the rotation, the new key signs');
SELECT is((SELECT count(*) FROM auth.cursor_keys), 2::bigint, 'after a rotation two keys remain: the new and the previous');
SELECT ok(pg_temp.accepted('activities', :'before_1'), 'a cursor of the previous key is still read after a rotation');
SELECT ok(pg_temp.accepted('activities', :'before_2'), 'a cursor of the new key is read');
SELECT response.rotate_cursor_key() AS k3 \gset
SELECT ok(NOT pg_temp.accepted('activities', :'before_1'), 'after a second rotation, the cursor two keys back is refused');
SELECT ok(pg_temp.accepted('activities', :'before_2'), '... and the previous key''s still read');
SELECT is((SELECT array_agg(id ORDER BY id) FROM auth.cursor_keys), ARRAY[:k2, :k3]::bigint[], 'the two newest keys remain');
SELECT is((SELECT array_agg(DISTINCT k ORDER BY k) FROM audit.logs l, jsonb_object_keys(l.details) k
            WHERE l.source = 'db' AND l.message = 'cursor key rotated' AND (l.details ->> 'key_id')::bigint IN (:k2, :k3)),
          ARRAY['by', 'key_id', 'keys_deleted'], 'each rotation is logged, without the key');

SELECT * FROM finish();
ROLLBACK;
