-- Goals (sql/code/api/goals.sql, sql/code/tracking/goals.sql) and the
-- completed_at triggers of sql/migrations/006_goals.sql. api functions are
-- called as the gateway role with pg_temp.ctx (helpers.psql); tables are
-- read and written behind the API's back as the superuser (RESET ROLE).
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(116);

\ir helpers.psql

-- The members named keys of the object j.
CREATE FUNCTION pg_temp.pick(j jsonb, VARIADIC keys text[]) RETURNS jsonb LANGUAGE sql IMMUTABLE
RETURN (SELECT coalesce(jsonb_object_agg(k, j -> k), '{}') FROM unnest(keys) k);

-- Two accounts with a session each: Gil owns the goals, Hal is the other account.
INSERT INTO auth.accounts (username, email, password_hash)
VALUES ('tap09_gil', 'tap09.gil@example.com', auth.dummy_password_hash()),
       ('tap09_hal', 'tap09.hal@example.com', auth.dummy_password_hash());
SELECT id AS gil FROM auth.accounts WHERE username = 'tap09_gil' \gset
SELECT id AS hal FROM auth.accounts WHERE username = 'tap09_hal' \gset
SELECT auth.create_account_session('tap09_gil', 'UA-Gil', '192.0.2.9') AS gil_tok \gset
SELECT auth.create_account_session('tap09_hal', 'UA-Hal', '192.0.2.9') AS hal_tok \gset

-- ----------------------------------------------------------------------------
-- Privileges
-- ----------------------------------------------------------------------------
SELECT ok(has_function_privilege('gateway', p.oid, 'EXECUTE'), format('the gateway may execute %s', p.oid::regprocedure))
  FROM pg_proc p
 WHERE p.oid IN ('api.list_goals(request.context)'::regprocedure,
                 'api.create_goal(request.context, text, text, numeric, text, text)'::regprocedure,
                 'api.get_goal(request.context, bigint)'::regprocedure,
                 'api.update_goal(request.context, bigint, text, text, numeric, text, text)'::regprocedure,
                 'api.delete_goal(request.context, bigint)'::regprocedure,
                 'api.list_goal_entries(request.context, bigint, text, bigint)'::regprocedure,
                 'api.create_goal_entry(request.context, bigint, numeric, text, text)'::regprocedure,
                 'api.update_goal_entry(request.context, bigint, bigint, numeric, text, text)'::regprocedure,
                 'api.delete_goal_entry(request.context, bigint, bigint)'::regprocedure)
 ORDER BY p.proname;
SELECT ok(NOT has_schema_privilege('gateway', 'tracking', 'USAGE'), 'the gateway cannot use schema tracking');
SELECT ok(NOT has_table_privilege('gateway', 'tracking.goals', 'SELECT,INSERT,UPDATE,DELETE'),
          'the gateway has no privilege on tracking.goals');
SELECT ok(NOT has_table_privilege('gateway', 'tracking.goal_entries', 'SELECT,INSERT,UPDATE,DELETE'),
          'the gateway has no privilege on tracking.goal_entries');
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'tracking' AND has_function_privilege('gateway', p.oid, 'EXECUTE')
$$, 'the gateway may execute no function of schema tracking');

SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT count(*) FROM tracking.goals$$, '42501', NULL, 'as the gateway, reading tracking.goals is refused');

-- ----------------------------------------------------------------------------
-- Sessions: another browser's token is refused (a committed 401; without a
-- token or with an unknown one: 17_session_checks.sql)
-- ----------------------------------------------------------------------------
SELECT is(pg_temp.failure(format('SELECT api.list_goals(pg_temp.ctx(token => %L, browser => %L))', :'gil_tok', 'UA-Other')),
          '401 BROWSER', 'another browser is a committed 401 BROWSER');
RESET ROLE;
SELECT auth.create_account_session('tap09_gil', 'UA-Gil', '192.0.2.9') AS gil_tok \gset
SET LOCAL ROLE gateway;

-- ----------------------------------------------------------------------------
-- api.create_goal: 201 {"goal"}; 422 VALIDATION per field
-- ----------------------------------------------------------------------------
SELECT api.list_goals(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil')) AS empty_list \gset
SELECT is(:'empty_list'::jsonb, '{"goals": []}', 'an account without goals lists none');

SELECT api.create_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), 'Run 100 km', 'Spring training', 100, 'km',
                       '2026-06-30') AS run \gset
SELECT (:'run'::jsonb #>> '{goal,id}')::bigint AS run_id \gset
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'run'::jsonb -> 'goal') k),
          ARRAY['completed_at', 'created_at', 'description', 'due_date', 'id', 'percent', 'progress', 'target_amount',
                'title', 'unit'], 'the goal JSON has exactly these keys');
SELECT is((:'run'::jsonb -> 'goal') - 'id' - 'created_at',
          '{"title": "Run 100 km", "description": "Spring training", "target_amount": 100, "unit": "km",
            "due_date": "2026-06-30", "completed_at": null, "progress": 0, "percent": 0.0}'::jsonb,
          'create_goal returns the goal with progress 0 and percent 0.0');
SELECT is(jsonb_typeof(:'run'::jsonb #> '{goal,id}'), 'number', 'the goal id is a JSON number');
SELECT matches(:'run'::jsonb #>> '{goal,created_at}', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', 'created_at is RFC 3339 in UTC');

SELECT api.create_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), 'Journal', NULL, NULL, NULL, NULL) AS journal \gset
SELECT (:'journal'::jsonb #>> '{goal,id}')::bigint AS journal_id \gset
SELECT is((:'journal'::jsonb -> 'goal') - 'id' - 'created_at',
          '{"title": "Journal", "description": "", "target_amount": null, "unit": null, "due_date": null,
            "completed_at": null, "progress": 0, "percent": null}'::jsonb,
          'a goal without target: description empty, percent null');
SELECT is(api.create_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), 'Tiny', '', 0.001, '', '')::jsonb -> 'goal'
            -> 'unit', 'null'::jsonb, 'an empty unit and due_date are none');

SELECT throws_ok(format($$SELECT api.create_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), NULL, NULL, NULL, NULL, NULL)$$, :'gil_tok'),
                 'PT422', 'some fields are invalid', 'create_goal without a title raises PT422');
SELECT is(pg_temp.error_of(format($$SELECT api.create_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), NULL, NULL, NULL, NULL, NULL)$$, :'gil_tok'))
            -> 'detail', '{"code": "VALIDATION", "details": {"title": "required"}}'::jsonb, '... title: required');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(pg_temp.error_of(format(
             $$SELECT api.create_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), '  ', repeat('d', 2001), -1, repeat('u', 33), '2026-13-01')$$,
             :'gil_tok')) #> '{detail,details}') k),
          ARRAY['description', 'due_date', 'target_amount', 'title', 'unit'], 'each malformed field is reported');
SELECT is(pg_temp.error_of(format($$SELECT api.create_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %L, NULL, NULL, NULL, NULL)$$,
                                  :'gil_tok', repeat('t', 201))) #>> '{detail,details,title}',
          'must be 1 to 200 characters, not all blank', 'a title of 201 characters is refused');
SELECT lives_ok(format($$SELECT api.create_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %L, NULL, NULL, NULL, NULL)$$,
                       :'gil_tok', repeat('é', 200)), 'a title of 200 (two-byte) characters is taken');
SELECT is(pg_temp.error_of(format($$SELECT api.create_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), 'x', NULL, 0, NULL, NULL)$$, :'gil_tok'))
            #>> '{detail,details,target_amount}', 'must be greater than 0', 'a target of 0 is refused');
SELECT is(pg_temp.error_of(format($$SELECT api.create_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), 'x', NULL, 'NaN', NULL, NULL)$$, :'gil_tok'))
            #>> '{detail,details,target_amount}', 'must be a finite number', 'a target of NaN is refused');
SELECT is(pg_temp.error_of(format($$SELECT api.create_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), 'x', NULL, 'Infinity', NULL, NULL)$$, :'gil_tok'))
            #>> '{detail,details,target_amount}', 'must be a finite number', 'an infinite target is refused');
SELECT is(pg_temp.error_of(format($$SELECT api.create_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), 'x', NULL, 1e15, NULL, NULL)$$, :'gil_tok'))
            #>> '{detail,details,target_amount}', 'must be less than 1e15 in absolute value', 'a target of 1e15 is refused');
SELECT is(pg_temp.error_of(format($$SELECT api.create_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), 'x', NULL, NULL, NULL, %L)$$, :'gil_tok', d))
            #>> '{detail,details,due_date}', 'must be a date, YYYY-MM-DD', format('due_date %L is refused', d))
  FROM unnest(ARRAY['2026-02-30', '2026-2-3', '31/12/2026', 'today', 'infinity', '2026-12-31T00:00:00Z', '0000-01-01']) d;

-- ----------------------------------------------------------------------------
-- api.get_goal, api.list_goals: the caller's only; 404 for anyone else
-- ----------------------------------------------------------------------------
SELECT is(api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id)::jsonb, :'run'::jsonb,
          'get_goal returns the goal as created');
SELECT throws_ok(format($$SELECT api.get_goal(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s)$$, :'hal_tok', :run_id),
                 'PT404', 'no such goal', 'another account''s goal raises PT404');
SELECT is(pg_temp.error_of(format($$SELECT api.get_goal(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s)$$, :'hal_tok', :run_id)),
          pg_temp.error_of(format($$SELECT api.get_goal(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s)$$, :'hal_tok', 999999999)),
          '... exactly as a goal that does not exist');
SELECT is(pg_temp.error_of(format($$SELECT api.get_goal(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s)$$, :'hal_tok', :run_id)) -> 'detail',
          '{"code": "NOT_FOUND", "details": null}'::jsonb, '... with code NOT_FOUND');
SELECT is(api.list_goals(pg_temp.ctx(token => :'hal_tok', browser => 'UA-Hal'))::jsonb, '{"goals": []}',
          'another account lists none of Gil''s goals');

-- ----------------------------------------------------------------------------
-- Entries: api.create_goal_entry, progress, percent, completed_at
-- ----------------------------------------------------------------------------
SELECT api.create_goal_entry(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, 40.5, 'long run',
                             '2026-03-01T08:00:00+02:00') AS e1 \gset
SELECT (:'e1'::jsonb #>> '{entry,id}')::bigint AS e1_id \gset
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'e1'::jsonb -> 'entry') k),
          ARRAY['amount', 'created_at', 'goal_id', 'id', 'note', 'occurred_at'], 'the entry JSON has exactly these keys');
SELECT is((:'e1'::jsonb -> 'entry') - 'id' - 'created_at',
          jsonb_build_object('goal_id', :run_id, 'amount', 40.5, 'note', 'long run', 'occurred_at', '2026-03-01T06:00:00.000000Z'),
          'create_goal_entry returns the entry, occurred_at in UTC');
SELECT api.create_goal_entry(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, NULL, NULL, NULL) AS e2 \gset
SELECT (:'e2'::jsonb #>> '{entry,id}')::bigint AS e2_id \gset
SELECT is((:'e2'::jsonb -> 'entry') - 'id' - 'created_at' - 'occurred_at',
          jsonb_build_object('goal_id', :run_id, 'amount', NULL, 'note', ''), 'an entry may have no amount and no note');
SELECT is((:'e2'::jsonb #>> '{entry,occurred_at}')::timestamptz, now(), 'occurred_at defaults to now');
SELECT is(api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id)::jsonb -> 'goal'
            -> 'progress', '40.5'::jsonb, 'progress is the sum of the amounts');
SELECT is(api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id)::jsonb -> 'goal'
            -> 'percent', '40.5'::jsonb, 'percent is progress / target × 100');
SELECT api.create_goal_entry(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, 59.5, NULL, '2026-03-02T08:00:00Z') AS e3 \gset
SELECT (:'e3'::jsonb #>> '{entry,id}')::bigint AS e3_id \gset
SELECT api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id) AS run_done \gset
SELECT is((:'run_done'::jsonb #>> '{goal,completed_at}')::timestamptz, now(), 'reaching the target sets completed_at');
SELECT is(:'run_done'::jsonb #> '{goal,percent}', '100.0'::jsonb, '... at 100.0 percent');
RESET ROLE;
UPDATE tracking.goals SET completed_at = '2026-03-02T09:00:00Z' WHERE id = :run_id;
SET LOCAL ROLE gateway;
SELECT api.create_goal_entry(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, 1, NULL, NULL) AS e4 \gset
SELECT (:'e4'::jsonb #>> '{entry,id}')::bigint AS e4_id \gset
SELECT is(api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id)::jsonb #>> '{goal,completed_at}',
          '2026-03-02T09:00:00.000000Z', 'going beyond the target keeps the time it was first reached');
SELECT is(api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id)::jsonb #> '{goal,percent}',
          '101.0'::jsonb, '... and percent passes 100');
SELECT api.create_goal_entry(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, -2, 'correction', NULL) AS e5 \gset
SELECT (:'e5'::jsonb #>> '{entry,id}')::bigint AS e5_id \gset
SELECT is(pg_temp.pick(api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id)::jsonb -> 'goal', 'completed_at', 'progress', 'percent'),
          '{"completed_at": null, "progress": 99.0, "percent": 99.0}'::jsonb,
          'a negative correction below the target unsets completed_at');
SELECT is(api.create_goal_entry(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :journal_id, 5, NULL, NULL)::jsonb
            #> '{entry,amount}', '5'::jsonb, 'an entry of a goal without target');
SELECT is(pg_temp.pick(api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :journal_id)::jsonb -> 'goal', 'completed_at', 'progress', 'percent'),
          '{"completed_at": null, "progress": 5, "percent": null}'::jsonb, '... has progress, no percent, no completed_at');

-- create_goal_entry: 404 for another account's goal, 422 per field.
SELECT throws_ok(format($$SELECT api.create_goal_entry(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s, 1, NULL, NULL)$$, :'hal_tok', :run_id),
                 'PT404', 'no such goal', 'an entry for another account''s goal raises PT404');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(pg_temp.error_of(format(
             $$SELECT api.create_goal_entry(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, 'NaN', repeat('n', 2001), 'yesterday')$$,
             :'gil_tok', :run_id)) #> '{detail,details}') k),
          ARRAY['amount', 'note', 'occurred_at'], 'create_goal_entry reports each malformed field');
SELECT is(pg_temp.error_of(format($$SELECT api.create_goal_entry(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, NULL, NULL, %L)$$,
                                  :'gil_tok', :run_id, t)) #>> '{detail,details,occurred_at}',
          'must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z', format('occurred_at %L is refused', t))
  FROM unnest(ARRAY['2026-03-01', '2026-03-01T08:00:00', '2026-03-01 08:00:00Z', '2026-02-30T08:00:00Z', '2026-03-01T25:00:00Z',
                    'now', 'infinity', 'epoch']) t;
SELECT is(pg_temp.error_of(format($$SELECT api.create_goal_entry(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, -1e15, NULL, NULL)$$,
                                  :'gil_tok', :run_id)) #>> '{detail,details,amount}',
          'must be less than 1e15 in absolute value', 'an amount of -1e15 is refused');

-- ----------------------------------------------------------------------------
-- api.update_goal_entry, api.delete_goal_entry: completed_at follows
-- ----------------------------------------------------------------------------
SELECT is((api.update_goal_entry(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, :e5_id, 2, NULL, NULL)::jsonb
            -> 'entry') - 'created_at' - 'occurred_at',
          jsonb_build_object('id', :e5_id, 'goal_id', :run_id, 'amount', 2, 'note', 'correction'),
          'update_goal_entry changes the amount and keeps the note');
SELECT isnt(api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id)::jsonb #>> '{goal,completed_at}', NULL,
            'raising an entry''s amount back over the target sets completed_at again');
SELECT is((api.update_goal_entry(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, :e5_id, NULL, '', '2026-03-03T10:00:00.5-01:00')::jsonb
            -> 'entry') - 'created_at' - 'id' - 'goal_id',
          '{"amount": 2, "note": "", "occurred_at": "2026-03-03T11:00:00.500000Z"}'::jsonb,
          'update_goal_entry empties the note and moves occurred_at, keeping the amount');
SELECT is(api.delete_goal_entry(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, :e3_id)::text, NULL,
          'delete_goal_entry returns nothing (204)');
SELECT is(pg_temp.pick(api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id)::jsonb -> 'goal', 'completed_at', 'progress', 'percent'),
          '{"completed_at": null, "progress": 43.5, "percent": 43.5}'::jsonb,
          'removing an entry so progress falls below the target unsets completed_at');
SELECT throws_ok(format($$SELECT api.delete_goal_entry(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, %s)$$, :'gil_tok', :run_id, :e3_id),
                 'PT404', 'no such entry', 'a deleted entry raises PT404');
SELECT throws_ok(format($$SELECT api.update_goal_entry(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, %s, 1, NULL, NULL)$$, :'gil_tok', :journal_id, :e1_id),
                 'PT404', 'no such entry', 'an entry of another goal of the same account raises PT404');
SELECT throws_ok(format($$SELECT api.update_goal_entry(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s, %s, 1, NULL, NULL)$$, :'hal_tok', :run_id, :e1_id),
                 'PT404', 'no such goal', 'another account''s entry raises PT404 on update');
SELECT throws_ok(format($$SELECT api.delete_goal_entry(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s, %s)$$, :'hal_tok', :run_id, :e1_id),
                 'PT404', 'no such goal', '... and on delete');
SELECT throws_ok(format($$SELECT api.update_goal_entry(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, %s, 'NaN', NULL, NULL)$$, :'gil_tok', :run_id, :e1_id),
                 'PT422', 'some fields are invalid', 'update_goal_entry with an amount of NaN raises PT422');
SELECT is(pg_temp.error_of(format($$SELECT api.update_goal_entry(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, %s, NULL, NULL, 'soon')$$, :'gil_tok', :run_id, :e1_id))
            #> '{detail,details}', '{"occurred_at": "must be an RFC 3339 timestamp with a time zone, e.g. 2026-05-01T08:30:00Z"}'::jsonb,
          'update_goal_entry reports a malformed occurred_at');

-- ----------------------------------------------------------------------------
-- api.list_goal_entries: newest first, keyset pages
-- ----------------------------------------------------------------------------
-- Entries of run now: e1 (2026-03-01T06:00Z), e5 (2026-03-03T11:00:00.5Z), e2 and e4 (now).
SELECT api.list_goal_entries(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, NULL, NULL) AS all_entries \gset
SELECT is((SELECT array_agg((e ->> 'id')::bigint) FROM jsonb_array_elements(:'all_entries'::jsonb -> 'entries') e),
          ARRAY[:e4_id, :e2_id, :e5_id, :e1_id]::bigint[], 'entries are listed newest first (occurred_at, then id)');
SELECT is(:'all_entries'::jsonb -> 'next', 'null'::jsonb, 'one page: next is null');
SELECT api.list_goal_entries(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, NULL, 3) AS page1 \gset
SELECT is((SELECT array_agg((e ->> 'id')::bigint) FROM jsonb_array_elements(:'page1'::jsonb -> 'entries') e),
          ARRAY[:e4_id, :e2_id, :e5_id]::bigint[], 'limit 3: the first three');
SELECT api.list_goal_entries(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, :'page1'::jsonb ->> 'next', 3) AS page2 \gset
SELECT is((SELECT array_agg((e ->> 'id')::bigint) FROM jsonb_array_elements(:'page2'::jsonb -> 'entries') e),
          ARRAY[:e1_id]::bigint[], 'the next page holds the rest');
SELECT is(:'page2'::jsonb -> 'next', 'null'::jsonb, '... and ends the list');
SELECT is(api.list_goal_entries(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :journal_id, NULL, 1)::jsonb -> 'next',
          'null'::jsonb, 'a page that is exactly full and last has next null');
SELECT throws_ok(format($$SELECT api.list_goal_entries(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, NULL, 0)$$, :'gil_tok', :run_id),
                 'PT422', 'some parameters are invalid', 'limit 0 raises PT422');
SELECT is(pg_temp.error_of(format($$SELECT api.list_goal_entries(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, NULL, 101)$$, :'gil_tok', :run_id))
            #> '{detail,details}', '{"limit": "must be between 1 and 100"}'::jsonb, 'limit 101 is refused');
SELECT throws_ok(format($$SELECT api.list_goal_entries(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, 'garbage', NULL)$$, :'gil_tok', :run_id),
                 'PT400', 'not a cursor from this route', 'a cursor this project did not make raises PT400');
RESET ROLE;
SELECT response.cursor('goal_entries', now(), 'abc') AS bad_cursor \gset
SET LOCAL ROLE gateway;
SELECT is(pg_temp.error_of(format($$SELECT api.list_goal_entries(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, %L, NULL)$$,
                                  :'gil_tok', :run_id, :'bad_cursor')) #> '{detail,details}',
          '{"before": "is not a cursor from this route"}'::jsonb, 'a well-formed cursor whose key is no id raises PT400 too');
SELECT throws_ok(format($$SELECT api.list_goal_entries(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s, NULL, NULL)$$, :'hal_tok', :run_id),
                 'PT404', 'no such goal', 'another account''s entries raise PT404');

-- ----------------------------------------------------------------------------
-- api.update_goal: fields, target and completed_at; api.delete_goal
-- ----------------------------------------------------------------------------
SELECT is((api.update_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, 'Run 40 km', NULL, 40, NULL, NULL)::jsonb
            -> 'goal') - 'id' - 'created_at' - 'completed_at',
          '{"title": "Run 40 km", "description": "Spring training", "target_amount": 40, "unit": "km", "due_date": "2026-06-30",
            "progress": 43.5, "percent": 108.8}'::jsonb,
          'update_goal changes the given fields only; percent rounds to one decimal');
SELECT is((api.get_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id)::jsonb #>> '{goal,completed_at}')::timestamptz,
          now(), 'lowering the target under the progress sets completed_at');
SELECT is((api.update_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, NULL, '', 50, '', '')::jsonb
            -> 'goal') - 'id' - 'created_at' - 'title',
          '{"description": "", "target_amount": 50, "unit": null, "due_date": null, "completed_at": null,
            "progress": 43.5, "percent": 87.0}'::jsonb,
          'empty strings clear description, unit and due_date; raising the target over the progress unsets completed_at');
SELECT is(api.update_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id, NULL, NULL, NULL, NULL, '2027-01-31')::jsonb
            #>> '{goal,due_date}', '2027-01-31', 'update_goal sets a due date');
SELECT throws_ok(format($$SELECT api.update_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, '', NULL, NULL, NULL, NULL)$$, :'gil_tok', :run_id),
                 'PT422', 'some fields are invalid', 'update_goal with an empty title raises PT422');
SELECT is(pg_temp.error_of(format($$SELECT api.update_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s, NULL, NULL, -5, NULL, 'May 1')$$, :'gil_tok', :run_id))
            #> '{detail,details}', '{"target_amount": "must be greater than 0", "due_date": "must be a date, YYYY-MM-DD"}'::jsonb,
          'update_goal reports each malformed field');
SELECT throws_ok(format($$SELECT api.update_goal(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s, 'mine now', NULL, NULL, NULL, NULL)$$, :'hal_tok', :run_id),
                 'PT404', 'no such goal', 'another account''s goal cannot be changed (PT404)');
SELECT throws_ok(format($$SELECT api.update_goal(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s, '', NULL, NULL, NULL, NULL)$$, :'hal_tok', :run_id),
                 'PT404', 'no such goal', '... PT404 before any validation');
SELECT throws_ok(format($$SELECT api.delete_goal(pg_temp.ctx(token => %L, browser => 'UA-Hal'), %s)$$, :'hal_tok', :run_id),
                 'PT404', 'no such goal', 'another account''s goal cannot be deleted (PT404)');

-- list_goals: open goals first, then by due date (none last).
SELECT api.create_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), 'Soon', NULL, NULL, NULL, '2026-01-15') #>> '{goal,id}' AS soon_id \gset
SELECT api.create_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), 'Done', NULL, 1, NULL, '2025-01-01') #>> '{goal,id}' AS done_id \gset
SELECT api.create_goal_entry(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :done_id, 1, NULL, NULL) AS ignored \gset
SELECT is((SELECT array_agg(g ->> 'title' ORDER BY i)
             FROM jsonb_array_elements(api.list_goals(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'))::jsonb -> 'goals')
                  WITH ORDINALITY AS x (g, i)
            WHERE g ->> 'title' IN ('Soon', 'Done', 'Run 40 km', 'Journal')),
          ARRAY['Soon', 'Run 40 km', 'Journal', 'Done'], 'list_goals: open first, by due date (none last), completed last');

SELECT is(api.delete_goal(pg_temp.ctx(token => :'gil_tok', browser => 'UA-Gil'), :run_id)::text, NULL,
          'delete_goal returns nothing (204)');
SELECT throws_ok(format($$SELECT api.get_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s)$$, :'gil_tok', :run_id),
                 'PT404', 'no such goal', 'a deleted goal raises PT404');
SELECT throws_ok(format($$SELECT api.delete_goal(pg_temp.ctx(token => %L, browser => 'UA-Gil'), %s)$$, :'gil_tok', :run_id),
                 'PT404', 'no such goal', '... also when deleted again');
RESET ROLE;
SELECT is((SELECT count(*) FROM tracking.goal_entries WHERE goal_id = :run_id), 0::bigint, 'deleting a goal deletes its entries');

-- The triggers keep completed_at for a DBA's direct writes too, not only the api's.
INSERT INTO tracking.goals (account_id, title, target_amount) VALUES (:gil, 'Direct', 2) RETURNING id AS direct_id \gset
INSERT INTO tracking.goal_entries (goal_id, amount) VALUES (:direct_id, 1);
INSERT INTO tracking.goal_entries (goal_id, amount) VALUES (:direct_id, 1.5) RETURNING id AS direct_entry \gset
SELECT is((SELECT completed_at FROM tracking.goals WHERE id = :direct_id), now(), 'a direct INSERT of entries sets completed_at');
UPDATE tracking.goal_entries SET amount = 0.5 WHERE id = :direct_entry;
SELECT is((SELECT completed_at FROM tracking.goals WHERE id = :direct_id), NULL, 'a direct UPDATE below the target unsets it');
UPDATE tracking.goals SET target_amount = 1.5 WHERE id = :direct_id;
SELECT is((SELECT completed_at FROM tracking.goals WHERE id = :direct_id), now(), 'a direct UPDATE of the target sets it again');

-- ----------------------------------------------------------------------------
-- The tables' own guards (what a DBA's direct write meets): SQLSTATE 23514
-- ----------------------------------------------------------------------------
SELECT throws_ok(format($$INSERT INTO tracking.goals (account_id, title) VALUES (%s, '')$$, :gil), '23514', NULL,
                 'goals_title_length refuses an empty title');
SELECT throws_ok(format($$INSERT INTO tracking.goals (account_id, title) VALUES (%s, '   ')$$, :gil), '23514', NULL,
                 'goals_title_not_blank refuses a blank title');
SELECT throws_ok(format($$INSERT INTO tracking.goals (account_id, title, target_amount) VALUES (%s, 'x', 'NaN')$$, :gil), '23514', NULL,
                 'goals_target_amount_finite refuses NaN');
SELECT throws_ok(format($$INSERT INTO tracking.goals (account_id, title, target_amount) VALUES (%s, 'x', 0)$$, :gil), '23514', NULL,
                 'goals_target_amount_range refuses 0');
SELECT throws_ok(format($$INSERT INTO tracking.goals (account_id, title, completed_at) VALUES (%s, 'x', now())$$, :gil), '23514', NULL,
                 'goals_completed_at_needs_target refuses completed_at without a target');
SELECT throws_ok(format($$INSERT INTO tracking.goal_entries (goal_id, amount) VALUES (%s, 'NaN')$$, :journal_id), '23514', NULL,
                 'goal_entries_amount_finite refuses NaN');
SELECT throws_ok(format($$INSERT INTO tracking.goal_entries (goal_id, amount) VALUES (%s, '-Infinity')$$, :journal_id), '23514', NULL,
                 'goal_entries_amount_finite refuses -Infinity');
SELECT throws_ok(format($$INSERT INTO tracking.goal_entries (goal_id, amount) VALUES (%s, 1e15)$$, :journal_id), '23514', NULL,
                 'goal_entries_amount_range refuses 1e15');

-- Deleting an account deletes its goals and their entries.
DELETE FROM auth.accounts WHERE id = :gil;
SELECT is((SELECT count(*) FROM tracking.goals WHERE account_id = :gil), 0::bigint, 'deleting an account deletes its goals');
SELECT is((SELECT count(*) FROM tracking.goal_entries WHERE goal_id = :journal_id), 0::bigint, '... and their entries');

SELECT * FROM finish();
ROLLBACK;
