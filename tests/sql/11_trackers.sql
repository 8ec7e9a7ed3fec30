-- Trackers and logs (sql/code/api/trackers.sql, sql/code/tracking/trackers.sql)
-- and the triggers of sql/migrations/008_trackers.sql. api functions are
-- called as the gateway role with pg_temp.ctx (helpers.psql); tables are
-- read and written behind the API's back as the superuser (RESET ROLE).
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(172);

\ir helpers.psql

-- Two accounts with a session each: Ivy owns the trackers, Jon is the other account.
INSERT INTO auth.accounts (username, email, password_hash)
VALUES ('tap11_ivy', 'tap11.ivy@example.com', auth.dummy_password_hash()),
       ('tap11_jon', 'tap11.jon@example.com', auth.dummy_password_hash());
SELECT id AS ivy FROM auth.accounts WHERE username = 'tap11_ivy' \gset
SELECT id AS jon FROM auth.accounts WHERE username = 'tap11_jon' \gset
SELECT auth.create_account_session('tap11_ivy', 'UA-Ivy', '192.0.2.11') AS ivy_tok \gset
SELECT auth.create_account_session('tap11_jon', 'UA-Jon', '192.0.2.11') AS jon_tok \gset

SELECT response.ts(now()) AS now_ts, response.ts(now() + interval '1 day 1 minute') AS too_late,
       response.ts(now() + interval '23 hours') AS in_23h \gset

-- Calls as Ivy and as Jon.
CREATE FUNCTION pg_temp.ivy() RETURNS request.context LANGUAGE sql IMMUTABLE SECURITY DEFINER
RETURN request.context(token => :'ivy_tok', browser => 'UA-Ivy');
CREATE FUNCTION pg_temp.jon() RETURNS request.context LANGUAGE sql IMMUTABLE SECURITY DEFINER
RETURN request.context(token => :'jon_tok', browser => 'UA-Jon');
-- The details of the 422 a call raises.
CREATE FUNCTION pg_temp.details(q text) RETURNS jsonb LANGUAGE sql
RETURN pg_temp.error_of(q) #> '{detail,details}';
-- The ids of a list's members, in order.
CREATE FUNCTION pg_temp.ids(j jsonb, key text) RETURNS bigint[] LANGUAGE sql IMMUTABLE
RETURN (SELECT array_agg((x ->> 'id')::bigint ORDER BY i) FROM jsonb_array_elements(j -> key) WITH ORDINALITY AS e (x, i));

-- ----------------------------------------------------------------------------
-- Privileges
-- ----------------------------------------------------------------------------
SELECT ok(has_function_privilege('gateway', p.oid, 'EXECUTE'), format('the gateway may execute %s', p.oid::regprocedure))
  FROM pg_proc p
 WHERE p.oid IN ('api.list_trackers(request.context)'::regprocedure,
                 'api.create_tracker(request.context, text, text, text, text, text)'::regprocedure,
                 'api.get_tracker(request.context, bigint)'::regprocedure,
                 'api.update_tracker(request.context, bigint, text, text, text, text)'::regprocedure,
                 'api.delete_tracker(request.context, bigint)'::regprocedure,
                 'api.list_tracker_logs(request.context, bigint, text, text, text, bigint)'::regprocedure,
                 'api.create_tracker_log(request.context, bigint, numeric, text, text, text, text, text)'::regprocedure,
                 'api.update_tracker_log(request.context, bigint, bigint, numeric, text, text, text, text, text)'::regprocedure,
                 'api.delete_tracker_log(request.context, bigint, bigint)'::regprocedure,
                 'api.tracker_series(request.context, bigint, text, text, text, text)'::regprocedure)
 ORDER BY p.proname;
SELECT ok(NOT has_table_privilege('gateway', t, 'SELECT,INSERT,UPDATE,DELETE'), format('the gateway has no privilege on %s', t))
  FROM unnest(ARRAY['tracking.trackers', 'tracking.logs']) t;
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'tracking' AND has_function_privilege('gateway', p.oid, 'EXECUTE')
$$, 'the gateway may execute no function of schema tracking');
SELECT ok(p.prosecdef, format('%s is SECURITY DEFINER', p.oid::regprocedure))
  FROM pg_proc p
 WHERE p.pronamespace = 'api'::regnamespace AND p.proname IN ('list_trackers', 'create_tracker', 'get_tracker', 'update_tracker',
       'delete_tracker', 'list_tracker_logs', 'create_tracker_log', 'update_tracker_log', 'delete_tracker_log', 'tracker_series')
 ORDER BY p.proname;

SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT count(*) FROM tracking.logs$$, '42501', NULL, 'as the gateway, reading tracking.logs is refused');

-- (Every route checks the token first: 17_session_checks.sql.)

-- ----------------------------------------------------------------------------
-- api.create_tracker: 201 {"tracker"}; 422 VALIDATION per field; 409 CONFLICT
-- ----------------------------------------------------------------------------
SELECT is(api.list_trackers(pg_temp.ivy())::jsonb, '{"trackers": []}', 'an account without trackers lists none');

SELECT api.create_tracker(pg_temp.ivy(), 'Weight', 'Mornings', 'numerical', 'kg', 'body weight') AS weight \gset
SELECT (:'weight'::jsonb #>> '{tracker,id}')::bigint AS weight_id \gset
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'weight'::jsonb -> 'tracker') k),
          ARRAY['created_at', 'description', 'id', 'last_logged_at', 'log_count', 'name', 'type', 'unit', 'updated_at',
                'what_to_track'], 'the tracker JSON has exactly these keys');
SELECT is((:'weight'::jsonb -> 'tracker') - 'id' - 'created_at' - 'updated_at',
          '{"name": "Weight", "description": "Mornings", "type": "numerical", "unit": "kg", "what_to_track": "body weight",
            "log_count": 0, "last_logged_at": null}'::jsonb,
          'create_tracker returns the tracker with no logs');
SELECT matches(:'weight'::jsonb #>> '{tracker,created_at}', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', 'created_at is RFC 3339 in UTC');
SELECT is(jsonb_typeof(:'weight'::jsonb #> '{tracker,id}'), 'number', 'the tracker id is a JSON number');

SELECT api.create_tracker(pg_temp.ivy(), 'Diary', NULL, 'note', '', NULL) AS diary \gset
SELECT (:'diary'::jsonb #>> '{tracker,id}')::bigint AS diary_id \gset
SELECT is((:'diary'::jsonb -> 'tracker') - 'id' - 'created_at' - 'updated_at',
          '{"name": "Diary", "description": "", "type": "note", "unit": null, "what_to_track": null,
            "log_count": 0, "last_logged_at": null}'::jsonb,
          'a note tracker: description empty, an empty unit is none');

SELECT throws_ok($$SELECT api.create_tracker(pg_temp.ivy(), NULL, NULL, NULL, NULL, NULL)$$,
                 'PT422', 'some fields are invalid', 'create_tracker without name and type raises PT422');
SELECT is(pg_temp.details($$SELECT api.create_tracker(pg_temp.ivy(), NULL, NULL, NULL, NULL, NULL)$$),
          '{"name": "required", "type": "required"}', '... name and type: required');
SELECT is(pg_temp.details(format($$SELECT api.create_tracker(pg_temp.ivy(), '  ', %L, 'count', %L, %L)$$,
                                 repeat('d', 2001), repeat('u', 33), repeat('w', 201))),
          '{"name": "must be 1 to 100 characters, not all blank", "description": "must be at most 2000 characters",
            "type": "must be note or numerical", "unit": "must be at most 32 characters",
            "what_to_track": "must be at most 200 characters"}', 'each malformed field is reported');
SELECT is(pg_temp.details(format($$SELECT api.create_tracker(pg_temp.ivy(), %L, NULL, 'note', NULL, NULL)$$, repeat('n', 101))),
          '{"name": "must be 1 to 100 characters, not all blank"}', 'a name of 101 characters is refused');
SELECT lives_ok(format($$SELECT api.create_tracker(pg_temp.ivy(), %L, NULL, 'note', NULL, NULL)$$, repeat('é', 100)),
                'a name of 100 (two-byte) characters is taken');
SELECT is(pg_temp.details($$SELECT api.create_tracker(pg_temp.ivy(), 'Mood', NULL, 'note', 'points', 'mood')$$),
          '{"unit": "only for a numerical tracker", "what_to_track": "only for a numerical tracker"}',
          'unit and what_to_track on a note tracker are refused');
SELECT throws_ok($$SELECT api.create_tracker(pg_temp.ivy(), 'WEIGHT', NULL, 'note', NULL, NULL)$$,
                 'PT409', 'you have a tracker of that name', 'a name taken by the account, in another case, raises PT409');
SELECT is(pg_temp.error_of($$SELECT api.create_tracker(pg_temp.ivy(), 'weight', NULL, 'note', NULL, NULL)$$) -> 'detail',
          '{"code": "CONFLICT", "details": {"name": "is taken"}}', '... with code CONFLICT');
SELECT lives_ok($$SELECT api.create_tracker(pg_temp.jon(), 'Weight', NULL, 'numerical', NULL, NULL)$$,
                'another account may use the same name');

-- ----------------------------------------------------------------------------
-- api.get_tracker, api.list_trackers: the caller's only; 404 for anyone else
-- ----------------------------------------------------------------------------
SELECT is(api.get_tracker(pg_temp.ivy(), :weight_id)::jsonb, :'weight'::jsonb, 'get_tracker returns the tracker as created');
SELECT throws_ok(format('SELECT api.get_tracker(pg_temp.jon(), %s)', :weight_id),
                 'PT404', 'no such tracker', 'another account''s tracker raises PT404');
SELECT is(pg_temp.error_of(format('SELECT api.get_tracker(pg_temp.jon(), %s)', :weight_id)),
          pg_temp.error_of('SELECT api.get_tracker(pg_temp.jon(), 999999999)'), '... exactly as a tracker that does not exist');
SELECT is(pg_temp.error_of(format('SELECT api.get_tracker(pg_temp.jon(), %s)', :weight_id)) -> 'detail',
          '{"code": "NOT_FOUND", "details": null}', '... with code NOT_FOUND');
SELECT is((SELECT array_agg(x ->> 'name') FROM jsonb_array_elements(api.list_trackers(pg_temp.jon())::jsonb -> 'trackers') x),
          ARRAY['Weight'], 'another account lists only its own trackers');

-- ----------------------------------------------------------------------------
-- Logs: api.create_tracker_log
-- ----------------------------------------------------------------------------
SELECT api.create_tracker_log(pg_temp.ivy(), :weight_id, 71.25, 'after run', 'tired', 'Weigh-in', '2026-04-01',
                              '2026-03-01T08:00:00+02:00') AS l1 \gset
SELECT (:'l1'::jsonb #>> '{log,id}')::bigint AS l1_id \gset
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'l1'::jsonb -> 'log') k),
          ARRAY['created_at', 'emotion', 'event_date', 'event_reminder_msg', 'id', 'logged_at', 'note', 'tracker_id', 'updated_at',
                'value'], 'the log JSON has exactly these keys');
SELECT is((:'l1'::jsonb -> 'log') - 'id' - 'created_at' - 'updated_at',
          jsonb_build_object('tracker_id', :weight_id, 'value', 71.25, 'note', 'after run', 'emotion', 'tired',
                             'event_reminder_msg', 'Weigh-in', 'event_date', '2026-04-01', 'logged_at', '2026-03-01T06:00:00.000000Z'),
          'create_tracker_log returns the log, logged_at in UTC');
SELECT api.create_tracker_log(pg_temp.ivy(), :weight_id, 70, NULL, NULL, NULL, NULL, NULL) AS l2 \gset
SELECT (:'l2'::jsonb #>> '{log,id}')::bigint AS l2_id \gset
SELECT is((:'l2'::jsonb #>> '{log,logged_at}')::timestamptz, now(), 'logged_at defaults to now');
SELECT is((:'l2'::jsonb -> 'log') - 'id' - 'created_at' - 'updated_at' - 'logged_at',
          jsonb_build_object('tracker_id', :weight_id, 'value', 70, 'note', '', 'emotion', null, 'event_reminder_msg', null,
                             'event_date', null), 'note defaults to empty, emotion and reminder to null');
SELECT api.create_tracker_log(pg_temp.ivy(), :diary_id, NULL, 'A calm day', 'calm', '', '', '2026-03-02T20:00:00Z') AS d1 \gset
SELECT (:'d1'::jsonb #>> '{log,id}')::bigint AS d1_id \gset
SELECT is((:'d1'::jsonb -> 'log') ->> 'value', NULL, 'a note tracker''s log has no value');
SELECT is(pg_temp.details(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, NULL, 'x', NULL, NULL, NULL, NULL)$$, :weight_id)),
          '{"value": "required for a numerical tracker"}', 'a numerical tracker''s log needs a value');
SELECT is(pg_temp.details(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, 1, NULL, NULL, NULL, NULL, NULL)$$, :diary_id)),
          '{"value": "must be absent for a note tracker"}', 'a note tracker''s log takes no value');
SELECT is(pg_temp.details(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, %L, NULL, NULL, NULL, NULL, NULL)$$, :weight_id, v)),
          '{"value": "must be a finite number"}', format('a value of %s is refused', v))
  FROM unnest(ARRAY['NaN', 'Infinity', '-Infinity']) v;
SELECT is(pg_temp.details(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, %s, NULL, NULL, NULL, NULL, NULL)$$, :weight_id, v)),
          '{"value": "must have at most 15 significant digits"}', format('a value of %s is refused', v))
  FROM unnest(ARRAY['1234567890123456', '0.1234567890123456', '-1000000.000000001']) v;
SELECT lives_ok(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, %s, NULL, NULL, NULL, NULL, '2020-01-01T00:00:00Z')$$, :weight_id, v),
                format('a value of %s is taken', v))
  FROM unnest(ARRAY['123456789012345', '-0.000123456789012345', '1e100', '0', '12.500']) v;
SELECT is(pg_temp.details(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, NULL, NULL, %L, NULL, NULL, NULL)$$, :diary_id, e)),
          '{"emotion": "must be one of happy, calm, neutral, tired, anxious, sad, angry"}', format('emotion %L is refused', e))
  FROM unnest(ARRAY['joyful', 'Happy', ' calm']) e;
SELECT is(pg_temp.details(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, NULL, NULL, NULL, 'Call mum', NULL, NULL)$$, :diary_id)),
          '{"event_date": "required with event_reminder_msg"}', 'a reminder message without a date is refused');
SELECT is(pg_temp.details(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, NULL, %L, NULL, %L, '2026-02-30', 'yesterday')$$,
                                 :diary_id, repeat('n', 10001), repeat('m', 501))),
          '{"note": "must be at most 10000 characters", "event_reminder_msg": "must be at most 500 characters",
            "event_date": "must be a date, YYYY-MM-DD",
            "logged_at": "must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z"}',
          'each malformed field is reported');
SELECT lives_ok(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, NULL, %L, NULL, NULL, NULL, NULL)$$, :diary_id, repeat('n', 10000)),
                'a note of 10000 characters is taken');
SELECT is(pg_temp.details(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, NULL, NULL, NULL, NULL, NULL, %L)$$,
                                 :diary_id, :'too_late')),
          '{"logged_at": "must not be more than a day in the future"}', 'logged_at more than a day ahead is refused');
SELECT lives_ok(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, NULL, NULL, NULL, NULL, NULL, %L)$$,
                       :diary_id, :'in_23h'), 'logged_at within a day ahead is taken');
SELECT is(pg_temp.details(format($$SELECT api.create_tracker_log(pg_temp.ivy(), %s, NULL, NULL, NULL, NULL, NULL, %L)$$, :diary_id, t)),
          '{"logged_at": "must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z"}', format('logged_at %L is refused', t))
  FROM unnest(ARRAY['2026-03-01', '2026-03-01T08:00:00', 'now', 'infinity']) t;
SELECT throws_ok(format($$SELECT api.create_tracker_log(pg_temp.jon(), %s, 1, NULL, NULL, NULL, NULL, NULL)$$, :weight_id),
                 'PT404', 'no such tracker', 'a log for another account''s tracker raises PT404');
SELECT throws_ok(format($$SELECT api.create_tracker_log(pg_temp.jon(), %s, NULL, NULL, 'joyful', NULL, NULL, NULL)$$, :weight_id),
                 'PT404', 'no such tracker', '... before any validation');

-- log_count, last_logged_at; adding a log bumps the tracker's updated_at.
RESET ROLE;
UPDATE tracking.trackers SET name = name WHERE id = :diary_id;
UPDATE tracking.trackers SET updated_at = '2026-01-01T00:00:00Z' WHERE id = :diary_id;
SELECT is((SELECT updated_at FROM tracking.trackers WHERE id = :diary_id), now(), 'changing a tracker sets its updated_at (the trigger)');
ALTER TABLE tracking.trackers DISABLE TRIGGER trackers_before_update;
UPDATE tracking.trackers SET updated_at = '2026-01-01T00:00:00Z' WHERE account_id = :ivy;
ALTER TABLE tracking.trackers ENABLE TRIGGER trackers_before_update;
SET LOCAL ROLE gateway;
SELECT is(pg_temp.ids(api.list_trackers(pg_temp.ivy())::jsonb, 'trackers') @> ARRAY[:weight_id, :diary_id]::bigint[], true,
          'list_trackers lists both');
SELECT api.create_tracker_log(pg_temp.ivy(), :diary_id, NULL, 'later', NULL, NULL, NULL, '2026-03-03T20:00:00Z') AS d2 \gset
SELECT (:'d2'::jsonb #>> '{log,id}')::bigint AS d2_id \gset
SELECT is((api.get_tracker(pg_temp.ivy(), :diary_id)::jsonb #>> '{tracker,updated_at}')::timestamptz, now(),
          'adding a log bumps the tracker''s updated_at');
SELECT is((api.get_tracker(pg_temp.ivy(), :weight_id)::jsonb #>> '{tracker,updated_at}')::timestamptz, '2026-01-01T00:00:00Z',
          '... and no other tracker''s');
SELECT is((pg_temp.ids(api.list_trackers(pg_temp.ivy())::jsonb, 'trackers'))[1], :diary_id::bigint,
          'list_trackers: most recently updated first');
SELECT is(api.get_tracker(pg_temp.ivy(), :weight_id)::jsonb #> '{tracker,log_count}', '7'::jsonb, 'log_count counts the logs');
SELECT is(api.get_tracker(pg_temp.ivy(), :weight_id)::jsonb #>> '{tracker,last_logged_at}', :'now_ts',
          'last_logged_at is the latest logged_at');

-- ----------------------------------------------------------------------------
-- api.update_tracker_log, api.delete_tracker_log
-- ----------------------------------------------------------------------------
RESET ROLE;
ALTER TABLE tracking.trackers DISABLE TRIGGER trackers_before_update;
UPDATE tracking.trackers SET updated_at = '2026-01-01T00:00:00Z' WHERE id = :weight_id;
ALTER TABLE tracking.trackers ENABLE TRIGGER trackers_before_update;
SET LOCAL ROLE gateway;
SELECT is((api.update_tracker_log(pg_temp.ivy(), :weight_id, :l1_id, 71.5, NULL, NULL, NULL, NULL, NULL)::jsonb -> 'log')
            - 'created_at' - 'updated_at',
          jsonb_build_object('id', :l1_id, 'tracker_id', :weight_id, 'value', 71.5, 'note', 'after run', 'emotion', 'tired',
                             'event_reminder_msg', 'Weigh-in', 'event_date', '2026-04-01', 'logged_at', '2026-03-01T06:00:00.000000Z'),
          'update_tracker_log changes the value and keeps the rest');
SELECT is((api.get_tracker(pg_temp.ivy(), :weight_id)::jsonb #>> '{tracker,updated_at}')::timestamptz, now(),
          'changing a log bumps the tracker''s updated_at');
SELECT is((api.update_tracker_log(pg_temp.ivy(), :weight_id, :l1_id, NULL, '', '', '', '', '2026-03-01T09:00:00.5-01:00')::jsonb -> 'log')
            - 'created_at' - 'updated_at' - 'id' - 'tracker_id',
          '{"value": 71.5, "note": "", "emotion": null, "event_reminder_msg": null, "event_date": null,
            "logged_at": "2026-03-01T10:00:00.500000Z"}',
          'empty strings clear note, emotion and the reminder; logged_at moves');
SELECT is(pg_temp.details(format($$SELECT api.update_tracker_log(pg_temp.ivy(), %s, %s, NULL, NULL, NULL, 'Soon', NULL, NULL)$$, :weight_id, :l1_id)),
          '{"event_date": "required with event_reminder_msg"}', 'a message on a log without a date is refused');
SELECT is(api.update_tracker_log(pg_temp.ivy(), :weight_id, :l1_id, NULL, NULL, 'happy', 'Soon', '2026-05-01', NULL)::jsonb
            #> '{log,event_reminder_msg}', '"Soon"', '... with a date it is taken');
SELECT is(pg_temp.details(format($$SELECT api.update_tracker_log(pg_temp.ivy(), %s, %s, NULL, NULL, NULL, NULL, '', NULL)$$, :weight_id, :l1_id)),
          '{"event_date": "required with event_reminder_msg"}', 'clearing the date of a reminder is refused');
SELECT is(pg_temp.details(format($$SELECT api.update_tracker_log(pg_temp.ivy(), %s, %s, 'NaN', NULL, 'bored', NULL, 'soon', 'later')$$,
                                 :weight_id, :l1_id)),
          '{"value": "must be a finite number", "emotion": "must be one of happy, calm, neutral, tired, anxious, sad, angry",
            "event_date": "must be a date, YYYY-MM-DD",
            "logged_at": "must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z"}',
          'update_tracker_log reports each malformed field');
SELECT is(pg_temp.details(format($$SELECT api.update_tracker_log(pg_temp.ivy(), %s, %s, 3, NULL, NULL, NULL, NULL, NULL)$$, :diary_id, :d1_id)),
          '{"value": "must be absent for a note tracker"}', 'a value on a note tracker''s log is refused');
SELECT throws_ok(format($$SELECT api.update_tracker_log(pg_temp.ivy(), %s, %s, NULL, 'x', NULL, NULL, NULL, NULL)$$, :diary_id, :l1_id),
                 'PT404', 'no such log', 'a log of another tracker of the same account raises PT404');
SELECT throws_ok(format($$SELECT api.update_tracker_log(pg_temp.jon(), %s, %s, NULL, 'x', NULL, NULL, NULL, NULL)$$, :weight_id, :l1_id),
                 'PT404', 'no such tracker', 'another account''s log raises PT404 on update');
SELECT throws_ok(format($$SELECT api.delete_tracker_log(pg_temp.jon(), %s, %s)$$, :weight_id, :l1_id),
                 'PT404', 'no such tracker', '... and on delete');
RESET ROLE;
ALTER TABLE tracking.trackers DISABLE TRIGGER trackers_before_update;
UPDATE tracking.trackers SET updated_at = '2026-01-01T00:00:00Z' WHERE id = :weight_id;
ALTER TABLE tracking.trackers ENABLE TRIGGER trackers_before_update;
SET LOCAL ROLE gateway;
SELECT is(api.delete_tracker_log(pg_temp.ivy(), :weight_id, :l2_id)::text, NULL, 'delete_tracker_log returns nothing (204)');
SELECT is((api.get_tracker(pg_temp.ivy(), :weight_id)::jsonb #>> '{tracker,updated_at}')::timestamptz, now(),
          'deleting a log bumps the tracker''s updated_at');
SELECT throws_ok(format($$SELECT api.delete_tracker_log(pg_temp.ivy(), %s, %s)$$, :weight_id, :l2_id),
                 'PT404', 'no such log', 'a deleted log raises PT404');

-- ----------------------------------------------------------------------------
-- api.list_tracker_logs: newest first, ?from=&to=, keyset pages
-- ----------------------------------------------------------------------------
-- Diary: d1 (2026-03-02T20:00Z), d2 (2026-03-03T20:00Z), two more without logged_at (now, now + 23h).
SELECT api.list_tracker_logs(pg_temp.ivy(), :diary_id, '2026-03-01T00:00:00Z', '2026-03-04T00:00:00Z', NULL, NULL) AS range \gset
SELECT is(pg_temp.ids(:'range'::jsonb, 'logs'), ARRAY[:d2_id, :d1_id]::bigint[], 'from and to select the logs between, newest first');
SELECT is(pg_temp.ids(api.list_tracker_logs(pg_temp.ivy(), :diary_id, '2026-03-02T20:00:00Z', '2026-03-03T20:00:00Z', NULL, NULL)::jsonb, 'logs'),
          ARRAY[:d1_id]::bigint[], 'from is inclusive, to exclusive');
SELECT is(pg_temp.ids(api.list_tracker_logs(pg_temp.ivy(), :diary_id, NULL, '2026-03-03T21:00:00+01:00', NULL, NULL)::jsonb, 'logs'),
          ARRAY[:d1_id]::bigint[], 'to alone, with an offset');
SELECT api.list_tracker_logs(pg_temp.ivy(), :diary_id, NULL, NULL, NULL, 2) AS page1 \gset
SELECT is(jsonb_array_length(:'page1'::jsonb -> 'logs'), 2, 'limit 2: two logs');
SELECT api.list_tracker_logs(pg_temp.ivy(), :diary_id, NULL, NULL, :'page1'::jsonb ->> 'next', 2) AS page2 \gset
SELECT is(pg_temp.ids(:'page2'::jsonb, 'logs'), ARRAY[:d2_id, :d1_id]::bigint[],
          'the next page holds the rest (the log 23 hours ahead and the 10000-character note came first)');
SELECT is(:'page2'::jsonb -> 'next', 'null', '... and, exactly full, ends the list');
SELECT is(pg_temp.details(format($$SELECT api.list_tracker_logs(pg_temp.ivy(), %s, '2026-03-01', 'tomorrow', NULL, NULL)$$, :diary_id)),
          '{"from": "must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z",
            "to": "must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z"}', 'malformed from and to are reported');
SELECT throws_ok(format($$SELECT api.list_tracker_logs(pg_temp.ivy(), %s, NULL, NULL, NULL, 101)$$, :diary_id),
                 'PT422', 'some parameters are invalid', 'limit 101 raises PT422');
SELECT throws_ok(format($$SELECT api.list_tracker_logs(pg_temp.ivy(), %s, NULL, NULL, 'garbage', NULL)$$, :diary_id),
                 'PT400', 'not a cursor from this route', 'a cursor this project did not make raises PT400');
SELECT throws_ok(format($$SELECT api.list_tracker_logs(pg_temp.jon(), %s, NULL, NULL, NULL, NULL)$$, :diary_id),
                 'PT404', 'no such tracker', 'another account''s logs raise PT404');

-- ----------------------------------------------------------------------------
-- api.tracker_series: buckets in a time zone, across DST changes
-- ----------------------------------------------------------------------------
RESET ROLE;
SELECT api.create_tracker(request.context(token => :'ivy_tok', browser => 'UA-Ivy'), 'Steps', NULL, 'numerical', NULL, NULL)
         #>> '{tracker,id}' AS steps_id \gset
-- Europe/Berlin: 2026-03-29 has 23 hours (from 2026-03-28T23:00Z to 2026-03-29T22:00Z),
-- 2026-10-25 has 25 (from 2026-10-24T22:00Z to 2026-10-25T23:00Z).
INSERT INTO tracking.logs (tracker_id, value, logged_at)
VALUES (:steps_id, 1, '2026-03-28T22:59:59Z'), (:steps_id, 2, '2026-03-28T23:00:00Z'), (:steps_id, 4, '2026-03-29T21:59:59Z'),
       (:steps_id, 8, '2026-03-29T22:00:00Z'),
       (:steps_id, 16, '2026-10-24T21:59:59Z'), (:steps_id, 32, '2026-10-24T22:00:00Z'), (:steps_id, 64, '2026-10-25T22:59:59Z'),
       (:steps_id, 128, '2026-10-25T23:00:00Z');
SELECT is(tracking.time_zone(z), z, format('tracking.time_zone takes %L', z))
  FROM unnest(ARRAY['Europe/Berlin', 'UTC', 'America/Port-au-Prince', 'America/Argentina/Buenos_Aires', 'Etc/GMT+5', 'EST5EDT']) z;
SELECT is(tracking.time_zone(z), NULL, format('tracking.time_zone refuses %L', z))
  FROM unnest(ARRAY['europe/berlin', 'PST', 'UTC+5', 'CET-1CEST', '<+03>-3', 'Etc/GMT+15', 'Mars/Olympus', '', 'Europe/../Berlin']) z;
SET LOCAL TimeZone = 'Asia/Tokyo';
SELECT tracking.time_zone('Europe/Berlin') AS ignored \gset
SELECT is(current_setting('TimeZone'), 'Asia/Tokyo', 'tracking.time_zone leaves the session''s TimeZone as it was');
SELECT tracking.time_zone('Nowhere/Atall') AS ignored \gset
SELECT is(current_setting('TimeZone'), 'Asia/Tokyo', '... also when it refuses the name');
SET LOCAL ROLE gateway;
SELECT is(api.tracker_series(pg_temp.ivy(), :steps_id, 'day', '2026-03-28', '2026-03-31', 'Europe/Berlin')::jsonb,
          '{"series": [{"bucket": "2026-03-28", "count": 1, "sum": 1, "avg": 1, "min": 1, "max": 1},
                       {"bucket": "2026-03-29", "count": 2, "sum": 6, "avg": 3, "min": 2, "max": 4},
                       {"bucket": "2026-03-30", "count": 1, "sum": 8, "avg": 8, "min": 8, "max": 8}]}',
          'Europe/Berlin, 2026-03-29: a day of 23 hours holds what was logged in it');
SELECT is(api.tracker_series(pg_temp.ivy(), :steps_id, 'day', '2026-10-24', '2026-10-27', 'Europe/Berlin')::jsonb,
          '{"series": [{"bucket": "2026-10-24", "count": 1, "sum": 16, "avg": 16, "min": 16, "max": 16},
                       {"bucket": "2026-10-25", "count": 2, "sum": 96, "avg": 48, "min": 32, "max": 64},
                       {"bucket": "2026-10-26", "count": 1, "sum": 128, "avg": 128, "min": 128, "max": 128}]}',
          'Europe/Berlin, 2026-10-25: a day of 25 hours holds what was logged in it');
SELECT is(api.tracker_series(pg_temp.ivy(), :steps_id, 'day', '2026-10-24T00:00:00Z', '2026-10-27T00:00:00Z', NULL)::jsonb,
          '{"series": [{"bucket": "2026-10-24", "count": 2, "sum": 48, "avg": 24, "min": 16, "max": 32},
                       {"bucket": "2026-10-25", "count": 2, "sum": 192, "avg": 96, "min": 64, "max": 128},
                       {"bucket": "2026-10-26", "count": 0, "sum": null, "avg": null, "min": null, "max": null}]}',
          'the default zone is UTC; an empty day has count 0 and null aggregates');
SELECT is(api.tracker_series(pg_temp.ivy(), :steps_id, 'week', '2026-03-29', '2026-04-13', 'Europe/Berlin')::jsonb -> 'series',
          '[{"bucket": "2026-03-23", "count": 2, "sum": 6, "avg": 3, "min": 2, "max": 4},
            {"bucket": "2026-03-30", "count": 1, "sum": 8, "avg": 8, "min": 8, "max": 8},
            {"bucket": "2026-04-06", "count": 0, "sum": null, "avg": null, "min": null, "max": null}]',
          'weeks start on Monday, local; from a Sunday, the first week starts the Monday before and counts from from');
SELECT is(api.tracker_series(pg_temp.ivy(), :steps_id, 'month', '2026-03-01', '2026-12-01', 'Europe/Berlin')::jsonb
            -> 'series' -> 0, '{"bucket": "2026-03-01", "count": 4, "sum": 15, "avg": 3.75, "min": 1, "max": 8}',
          'a month bucket in the zone');
SELECT is(jsonb_array_length(api.tracker_series(pg_temp.ivy(), :steps_id, 'month', '2026-03-01', '2026-12-01', 'Europe/Berlin')::jsonb
            -> 'series'), 9, 'every month of the range appears');
SELECT is(api.tracker_series(pg_temp.ivy(), :steps_id, 'month', '2026-10-01', '2026-11-01', 'America/New_York')::jsonb -> 'series',
          '[{"bucket": "2026-10-01", "count": 4, "sum": 240, "avg": 60, "min": 16, "max": 128}]',
          'in another zone the same logs fall elsewhere');
SELECT is(jsonb_array_length(api.tracker_series(pg_temp.ivy(), :steps_id, NULL, NULL, NULL, NULL)::jsonb -> 'series'), 30,
          'by default: the 30 days up to now');
SELECT is(jsonb_array_length(api.tracker_series(pg_temp.ivy(), :steps_id, 'week', NULL, NULL, NULL)::jsonb -> 'series'), 12,
          '... or 12 weeks');
SELECT is(api.tracker_series(pg_temp.ivy(), :diary_id, 'day', '2026-03-02T00:00:00Z', '2026-03-04T00:00:00Z', 'UTC')::jsonb,
          '{"series": [{"bucket": "2026-03-02", "count": 1}, {"bucket": "2026-03-03", "count": 1}]}',
          'a note tracker counts per bucket');
SELECT is(jsonb_array_length(api.tracker_series(pg_temp.ivy(), :steps_id, 'day', '2024-01-01', '2026-09-27', 'UTC')::jsonb -> 'series'),
          1000, 'a range of 1000 buckets is taken');
SELECT is(pg_temp.details(format($$SELECT api.tracker_series(pg_temp.ivy(), %s, 'day', '2024-01-01', '2026-09-28', 'UTC')$$, :steps_id)),
          '{"to": "must be at most 1000 buckets after from (here 1001)"}', 'a range of 1001 buckets is refused');
SELECT is(pg_temp.details(format($$SELECT api.tracker_series(pg_temp.ivy(), %s, 'month', '0001-01-01', '9999-12-31', 'UTC')$$, :steps_id)),
          '{"to": "must be at most 1000 buckets after from (here 119988)"}', 'the widest range is refused without building it');
SELECT is(pg_temp.details(format($$SELECT api.tracker_series(pg_temp.ivy(), %s, 'hour', NULL, NULL, %L)$$, :steps_id, z)),
          jsonb_build_object('bucket', 'must be day, week or month', 'tz', 'must be an IANA time zone, e.g. Europe/Berlin'),
          format('bucket hour and tz %L are refused', z))
  FROM unnest(ARRAY['Mars/Olympus', 'UTC+5', 'CET-1CEST', 'europe/berlin ', '../etc/passwd']) z;
SELECT is(pg_temp.details(format($$SELECT api.tracker_series(pg_temp.ivy(), %s, 'day', '2026-03-01T00:00:00', 'now', NULL)$$, :steps_id)),
          '{"from": "must be an RFC 3339 timestamp or a date, YYYY-MM-DD", "to": "must be an RFC 3339 timestamp or a date, YYYY-MM-DD"}',
          'malformed from and to are reported');
SELECT is(pg_temp.details(format($$SELECT api.tracker_series(pg_temp.ivy(), %s, 'day', '2026-03-02', '2026-03-02', NULL)$$, :steps_id)),
          '{"to": "must be after from"}', 'an empty range is refused');
SELECT throws_ok(format($$SELECT api.tracker_series(pg_temp.jon(), %s, 'hour', NULL, NULL, 'Mars/Olympus')$$, :steps_id),
                 'PT404', 'no such tracker', 'another account''s series raises PT404, before any validation');

-- ----------------------------------------------------------------------------
-- api.update_tracker, api.delete_tracker
-- ----------------------------------------------------------------------------
SELECT is((api.update_tracker(pg_temp.ivy(), :weight_id, 'Body weight', NULL, NULL, NULL)::jsonb -> 'tracker')
            - 'id' - 'created_at' - 'updated_at' - 'log_count' - 'last_logged_at',
          '{"name": "Body weight", "description": "Mornings", "type": "numerical", "unit": "kg", "what_to_track": "body weight"}',
          'update_tracker changes the given fields only');
SELECT is((api.update_tracker(pg_temp.ivy(), :weight_id, NULL, '', '', '')::jsonb -> 'tracker')
            - 'id' - 'created_at' - 'updated_at' - 'log_count' - 'last_logged_at' - 'name' - 'type',
          '{"description": "", "unit": null, "what_to_track": null}', 'empty strings clear description, unit and what_to_track');
SELECT is(api.update_tracker(pg_temp.ivy(), :weight_id, 'WEIGHT', NULL, 'lb', NULL)::jsonb #>> '{tracker,name}', 'WEIGHT',
          'a tracker may take its own name in another case');
SELECT throws_ok(format($$SELECT api.update_tracker(pg_temp.ivy(), %s, 'diary', NULL, NULL, NULL)$$, :weight_id),
                 'PT409', 'you have a tracker of that name', 'another tracker''s name raises PT409');
SELECT is(pg_temp.details(format($$SELECT api.update_tracker(pg_temp.ivy(), %s, '', NULL, 'kg', 'x')$$, :diary_id)),
          '{"name": "must be 1 to 100 characters, not all blank", "unit": "only for a numerical tracker",
            "what_to_track": "only for a numerical tracker"}', 'update_tracker reports each malformed field');
SELECT throws_ok(format($$SELECT api.update_tracker(pg_temp.jon(), %s, '', NULL, NULL, NULL)$$, :weight_id),
                 'PT404', 'no such tracker', 'another account''s tracker cannot be changed (PT404, before any validation)');
SELECT throws_ok(format($$SELECT api.delete_tracker(pg_temp.jon(), %s)$$, :weight_id),
                 'PT404', 'no such tracker', 'another account''s tracker cannot be deleted (PT404)');
SELECT is(api.delete_tracker(pg_temp.ivy(), :weight_id)::text, NULL, 'delete_tracker returns nothing (204)');
SELECT throws_ok(format($$SELECT api.get_tracker(pg_temp.ivy(), %s)$$, :weight_id), 'PT404', 'no such tracker', 'a deleted tracker raises PT404');
SELECT throws_ok(format($$SELECT api.delete_tracker(pg_temp.ivy(), %s)$$, :weight_id), 'PT404', 'no such tracker', '... also when deleted again');
RESET ROLE;
SELECT is((SELECT count(*) FROM tracking.logs WHERE tracker_id = :weight_id), 0::bigint, 'deleting a tracker deletes its logs');

-- ----------------------------------------------------------------------------
-- The tables' own guards (what a DBA's direct write meets): SQLSTATE 23514, 23505
-- ----------------------------------------------------------------------------
SELECT throws_ok(format($$INSERT INTO tracking.trackers (account_id, name, type) VALUES (%s, %L, 'note')$$, :ivy, n), '23514', NULL,
                 format('trackers_name_length and trackers_name_not_blank refuse %L', n))
  FROM unnest(ARRAY['', '   ']) n;
SELECT throws_ok(format($$INSERT INTO tracking.trackers (account_id, name, type) VALUES (%s, 'x', 'count')$$, :ivy), '23514', NULL,
                 'trackers_type_known refuses another type');
SELECT throws_ok(format($$INSERT INTO tracking.trackers (account_id, name, type, unit) VALUES (%s, 'x', 'note', 'kg')$$, :ivy), '23514', NULL,
                 'trackers_numerical_fields refuses a unit on a note tracker');
SELECT throws_ok(format($$INSERT INTO tracking.trackers (account_id, name, type) VALUES (%s, 'dIaRy', 'note')$$, :ivy), '23505', NULL,
                 'trackers_account_id_lower_name_key refuses a name again in another case');
SELECT throws_ok(format($$UPDATE tracking.trackers SET type = 'numerical' WHERE id = %s$$, :diary_id), '23514',
                 'a tracker''s type is fixed at creation', 'the type of a tracker cannot change');
SELECT throws_ok(format($$INSERT INTO tracking.logs (tracker_id, value) VALUES (%s, 1)$$, :diary_id), '23514',
                 'a log of a note tracker has no value', 'a note tracker''s log with a value is refused');
SELECT throws_ok(format($$INSERT INTO tracking.logs (tracker_id) VALUES (%s)$$, :steps_id), '23514',
                 'a log of a numerical tracker needs a value', 'a numerical tracker''s log without a value is refused');
SELECT throws_ok(format($$INSERT INTO tracking.logs (tracker_id, value) VALUES (%s, %L)$$, :steps_id, v), '23514', NULL,
                 format('logs_value_finite and logs_value_digits refuse %s', v))
  FROM unnest(ARRAY['NaN', 'Infinity', '1234567890.123456']) v;
SELECT throws_ok(format($$INSERT INTO tracking.logs (tracker_id, emotion) VALUES (%s, 'joyful')$$, :diary_id), '23514', NULL,
                 'logs_emotion_known refuses another emotion');
SELECT throws_ok(format($$INSERT INTO tracking.logs (tracker_id, event_reminder_msg) VALUES (%s, 'x')$$, :diary_id), '23514', NULL,
                 'logs_event_reminder_needs_date refuses a message without a date');
SELECT throws_ok(format($$INSERT INTO tracking.logs (tracker_id, note) VALUES (%s, %L)$$, :diary_id, repeat('n', 10001)), '23514', NULL,
                 'logs_note_length refuses 10001 characters');

-- Deleting an account deletes its trackers and their logs.
DELETE FROM auth.accounts WHERE id = :ivy;
SELECT is((SELECT count(*) FROM tracking.trackers WHERE account_id = :ivy), 0::bigint, 'deleting an account deletes its trackers');
SELECT is((SELECT count(*) FROM tracking.logs WHERE tracker_id IN (:diary_id, :steps_id)), 0::bigint, '... and their logs');

SELECT * FROM finish();
ROLLBACK;
