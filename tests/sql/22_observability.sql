-- What each function costs, and one trace (sql/code/api/admin.sql,
-- api.function_stats; sql/code/audit.sql; docs/operations/functions.md): the cluster counts PL/pgSQL functions
-- (track_functions = 'pl', set by scripts/lib/cluster.sh); the gateway reads
-- the counters of api's functions through api.function_stats alone, which
-- names no function of another schema and no other statistic.
--
-- Counted calls reach the shared statistics when a session goes idle outside
-- a transaction; so the calls this file counts on run first, each on its
-- own, with a flush forced before the transaction below begins.
SELECT api.current_session(ROW('no such token', 'UA-Tap22', '192.0.2.22', 'tap22-req', NULL, NULL)) IS NOT NULL AS called;
SELECT api.current_session(ROW('no such token', 'UA-Tap22', '192.0.2.22', 'tap22-req', NULL, NULL)) IS NOT NULL AS called;
SELECT pg_stat_force_next_flush();

BEGIN;
SELECT plan(11);
\ir helpers.psql

SELECT is(current_setting('track_functions'), 'pl', 'the cluster counts PL/pgSQL functions');
SELECT ok(has_function_privilege('gateway', 'api.function_stats()', 'EXECUTE'), 'the gateway may call api.function_stats');
SELECT is_empty($$
  SELECT k FROM json_array_elements(api.function_stats()) e, json_object_keys(e) k
   WHERE k NOT IN ('function', 'calls', 'total_seconds', 'self_seconds')
$$, 'it answers the counters and nothing else');

CREATE TEMP TABLE stats ON COMMIT DROP AS
SELECT s.* FROM json_to_recordset(api.function_stats())
             AS s("function" text, calls bigint, total_seconds double precision, self_seconds double precision);

SELECT cmp_ok((SELECT calls FROM stats WHERE "function" = 'current_session'), '>=', 2::bigint,
              'api.current_session''s calls are counted (two just now)');
SELECT is_empty($$
  SELECT "function" FROM stats
   WHERE "function" NOT IN (SELECT p.proname FROM pg_proc p WHERE p.pronamespace = 'api'::regnamespace)
$$, 'every name is a function of schema api');
-- api.current_session calls auth.check_session (PL/pgSQL, counted too), which
-- a DBA sees (scripts/db top) and the gateway does not.
SELECT ok(EXISTS (SELECT 1 FROM pg_stat_user_functions WHERE schemaname = 'auth' AND funcname = 'check_session'),
          'the helper inside is counted in the cluster');
SELECT ok(NOT EXISTS (SELECT 1 FROM stats WHERE "function" = 'check_session'), 'and is not among api.function_stats''s names');
SELECT ok((SELECT bool_and(total_seconds >= self_seconds AND self_seconds >= 0) FROM stats),
          'each function''s total time holds its self time');

-- One trace: the context's trace id in the audit rows a request writes; one
-- of another form is left out rather than failing the change it records.
SELECT lives_ok($$SELECT audit.write('INFO', 'tap22', 'traced', NULL, '{}',
                                     pg_temp.ctx(request_id => 'tap22-t1', trace_id => '0af7651916cd43dd8448eb211c80319c'))$$,
                'an audit row with a trace id');
SELECT is((SELECT trace_id FROM audit.logs WHERE request_id = 'tap22-t1'), '0af7651916cd43dd8448eb211c80319c',
          'the row holds the trace id beside the request id');
SELECT audit.write('INFO', 'tap22', 'traced', NULL, '{}', pg_temp.ctx(request_id => 'tap22-t2', trace_id => 'not-a-trace; DROP'));
SELECT is((SELECT count(*) FILTER (WHERE trace_id IS NULL) FROM audit.logs WHERE request_id = 'tap22-t2'), 1::bigint,
          'a malformed trace id is left out, and the row is written');

SELECT * FROM finish();
ROLLBACK;
