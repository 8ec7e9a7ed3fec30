-- The privilege model: the gateway role reaches api functions and nothing else
-- (sql/migrations/001_foundation.sql, the grants of sql/code/install.sql), and
-- every api route takes the request's context, `ctx request.context`, first.
-- (Schema tap is pgTAP itself, installed by scripts/test for the test database only.
-- This file creates no temporary function and does not include helpers.psql:
-- the session's own pg_temp schema is one the gateway may use, so a function
-- there would count as reachable below.)
BEGIN;
SELECT plan(41);

SELECT ok(NOT rolcanlogin, 'the owner role cannot log in') FROM pg_roles WHERE rolname = 'app_owner';
SELECT ok(rolcanlogin AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb,
          'the gateway role logs in and holds no special attribute')
  FROM pg_roles WHERE rolname = 'gateway';
-- The proxy-trusting login (scripts/lib/roles.sh bootstrap_roles): the gateway's
-- privileges through membership, nothing more; and the ordinary gateway is
-- not one of it (auth.check_session believes a proxy_user only from its members).
SELECT ok(rolcanlogin AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb AND rolinherit
          AND pg_has_role('gateway_proxy', 'gateway', 'MEMBER'),
          'gateway_proxy logs in, holds no special attribute and inherits the gateway''s privileges')
  FROM pg_roles WHERE rolname = 'gateway_proxy';
SELECT ok(NOT pg_has_role('gateway', 'gateway_proxy', 'MEMBER'), 'the gateway role is not a member of gateway_proxy');
SELECT is_empty($$
  SELECT m.roleid::regrole FROM pg_auth_members m
   WHERE m.member = 'gateway_proxy'::regrole AND m.roleid <> 'gateway'::regrole
$$, 'gateway_proxy is a member of gateway and of no other role');

-- The mail sender's login (scripts/lib/roles.sh bootstrap_roles): the
-- functions of schema sender (sql/code/mail.sql) and nothing else.
SELECT ok(rolcanlogin AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb AND NOT rolinherit AND rolconnlimit > 0,
          'mailer logs in, holds no special attribute, inherits nothing and has a connection limit')
  FROM pg_roles WHERE rolname = 'mailer';
SELECT is_empty($$SELECT m.roleid::regrole FROM pg_auth_members m WHERE m.member = 'mailer'::regrole$$,
                'mailer is a member of no role');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.oid::regprocedure::text)
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'tap')
              AND has_schema_privilege('mailer', n.oid, 'USAGE') AND has_function_privilege('mailer', p.oid, 'EXECUTE')),
          ARRAY['sender.claim(integer,interval)', 'sender.mark_failed(bigint,integer,text,boolean)',
                'sender.mark_sent(bigint,integer)', 'sender.stats()'],
          'mailer may execute the sender''s four functions and no other');
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'sender'
     AND NOT (p.prosecdef AND pg_get_userbyid(p.proowner) = 'app_owner'
              AND EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'))
$$, 'every sender function is SECURITY DEFINER, owned by app_owner, with a fixed search_path');
SELECT is_empty($$
  SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('information_schema', 'tap') AND n.nspname NOT LIKE 'pg\_%' AND c.relkind IN ('r', 'v', 'm', 'p', 'S')
     AND (has_table_privilege('mailer', c.oid, 'SELECT') OR has_table_privilege('mailer', c.oid, 'INSERT')
          OR has_table_privilege('mailer', c.oid, 'UPDATE') OR has_table_privilege('mailer', c.oid, 'DELETE'))
$$, 'mailer has no privilege on any table, view or sequence');
SELECT ok(NOT has_schema_privilege('gateway', 'mail', 'USAGE') AND NOT has_schema_privilege('gateway', 'sender', 'USAGE')
          AND NOT has_schema_privilege('mailer', 'mail', 'USAGE') AND NOT has_schema_privilege('mailer', 'api', 'USAGE'),
          'the gateway cannot use schemas mail and sender; mailer cannot use mail nor api');
SELECT ok(NOT has_table_privilege('gateway', 'mail.outbox', 'SELECT') AND NOT has_table_privilege('gateway', 'auth.one_time_tokens', 'SELECT'),
          'the gateway may not read the outbox nor the one-time tokens');
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting s, unnest(s.setconfig) c
            WHERE s.setrole = 'mailer'::regrole AND s.setdatabase = 0 AND c LIKE 'log\_%'),
          ARRAY['log_min_error_statement=panic', 'log_parameter_max_length=0', 'log_parameter_max_length_on_error=0'],
          'PostgreSQL logs neither mailer''s parameters nor its failed statements');
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p
   WHERE p.pronamespace = 'pg_catalog'::regnamespace AND (p.proname ~ '^pg_(try_)?advisory_' OR p.proname ~ '^lo_')
     AND has_function_privilege('mailer', p.oid, 'EXECUTE')
$$, 'mailer cannot take advisory locks nor touch large objects');
SELECT ok(has_database_privilege('mailer', current_database(), 'CONNECT')
          AND NOT has_database_privilege('mailer', current_database(), 'TEMPORARY'),
          'mailer connects to this database and cannot create temporary tables');

-- Every function in api is executable by the gateway, and every executable
-- function outside the system schemas is in api.
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'api' AND NOT has_function_privilege('gateway', p.oid, 'EXECUTE')
$$, 'the gateway can execute every api function');
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ('api', 'pg_catalog', 'information_schema', 'tap')
     AND has_schema_privilege('gateway', n.oid, 'USAGE')
     AND has_function_privilege('gateway', p.oid, 'EXECUTE')
$$, 'no function outside api is reachable by the gateway');
SELECT ok(NOT has_function_privilege('gateway', 'auth.create_account_session(text, text, inet)', 'EXECUTE'),
          'the gateway cannot mint a session without a password');
SELECT is_empty($$
  SELECT c.oid::regclass FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE n.nspname NOT IN ('information_schema', 'tap') AND n.nspname NOT LIKE 'pg\_%' AND c.relkind IN ('r', 'v', 'm', 'p', 'S')
     AND (has_table_privilege('gateway', c.oid, 'SELECT') OR has_table_privilege('gateway', c.oid, 'INSERT')
          OR has_table_privilege('gateway', c.oid, 'UPDATE') OR has_table_privilege('gateway', c.oid, 'DELETE'))
$$, 'the gateway has no privilege on any table, view or sequence');
SELECT ok(NOT has_schema_privilege('gateway', 'request', 'USAGE'),
          'the gateway cannot use schema request (it sends the context as an anonymous ROW)');
SELECT ok(NOT has_schema_privilege('gateway', 'response', 'USAGE'), 'the gateway cannot use schema response');

-- api functions run as the owner with a pinned search_path.
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'api'
     AND NOT (p.prosecdef AND pg_get_userbyid(p.proowner) = 'app_owner'
              AND EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'))
$$, 'every api function is SECURITY DEFINER, owned by app_owner, with a fixed search_path');

-- Every route takes the request's context first; the three operations the
-- gateway calls on its own (not routes) take none.
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'api' AND p.proname NOT IN ('maintenance', 'readiness', 'function_stats')
     AND (p.pronargs = 0 OR p.proargtypes[0] <> 'request.context'::regtype OR p.proargnames[1] IS DISTINCT FROM 'ctx')
$$, 'every api route function''s first argument is ctx request.context');
SELECT is((SELECT array_agg(p.oid::regprocedure::text ORDER BY p.proname) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE n.nspname = 'api' AND NOT 'request.context'::regtype = ANY (p.proargtypes::oid[])),
          ARRAY['api.function_stats()', 'api.maintenance(text,integer)', 'api.readiness()'],
          'only api.function_stats, api.maintenance and api.readiness take no request context');

-- What a stolen gateway password could still do with PostgreSQL itself
-- (scripts/lib/roles.sh harden_roles and harden_database; issue 15, items 9 and 11).
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p
   WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname ~ '^pg_(try_)?advisory_'
     AND (has_function_privilege('gateway', p.oid, 'EXECUTE') OR has_function_privilege('gateway_proxy', p.oid, 'EXECUTE'))
$$, 'the gateway roles cannot take advisory locks (the maintenance lock held forever)');
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p
   WHERE p.pronamespace = 'pg_catalog'::regnamespace AND (p.proname ~ '^lo_' OR p.proname IN ('loread', 'lowrite'))
     AND (has_function_privilege('gateway', p.oid, 'EXECUTE') OR has_function_privilege('gateway_proxy', p.oid, 'EXECUTE'))
$$, 'the gateway roles cannot create, write or read large objects');
SELECT ok(has_function_privilege('app_owner', 'pg_try_advisory_xact_lock(bigint)', 'EXECUTE')
          AND has_function_privilege('app_owner', 'pg_advisory_lock(bigint)', 'EXECUTE'),
          'the owner keeps the advisory locks (api.maintenance, tern)');
-- The project's own databases on the same cluster (the development
-- database, the benchmarks', the upgrade test's) are app_owner's and let the
-- gateway in on purpose; every other one must not.
SELECT is_empty($$
  SELECT d.datname FROM pg_database d
   WHERE d.datname <> current_database() AND d.datallowconn
     AND d.datdba <> 'app_owner'::regrole
     AND (has_database_privilege('gateway', d.oid, 'CONNECT') OR has_database_privilege('gateway_proxy', d.oid, 'CONNECT'))
$$, 'the gateway roles connect to no database but the project''s (not postgres, not template1)');
SELECT ok(NOT has_database_privilege('gateway', current_database(), 'TEMPORARY'), 'the gateway cannot create temporary tables');
SELECT ok(rolconnlimit > 0, format('the gateway role has a connection limit (%s)', rolconnlimit)) FROM pg_roles WHERE rolname = 'gateway';
SELECT ok(rolconnlimit > 0, format('gateway_proxy has a connection limit (%s)', rolconnlimit)) FROM pg_roles WHERE rolname = 'gateway_proxy';
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting s, unnest(s.setconfig) c
            WHERE s.setrole = 'gateway'::regrole AND s.setdatabase = 0 AND c LIKE 'log\_%'),
          ARRAY['log_min_error_statement=panic', 'log_parameter_max_length=0', 'log_parameter_max_length_on_error=0'],
          'PostgreSQL logs neither the gateway''s parameters nor its failed statements');
SELECT is((SELECT array_agg(c ORDER BY c) FROM pg_db_role_setting s, unnest(s.setconfig) c
            WHERE s.setrole = 'gateway_proxy'::regrole AND s.setdatabase = 0 AND c LIKE 'log\_%'),
          ARRAY['log_min_error_statement=panic', 'log_parameter_max_length=0', 'log_parameter_max_length_on_error=0'],
          'nor gateway_proxy''s (role settings are per login, not inherited)');

-- A session for the ROW call below.
INSERT INTO auth.accounts (username, email, password_hash)
VALUES ('Tap00_Ann', 'tap00.ann@example.com', auth.dummy_password_hash());
SELECT auth.create_account_session('Tap00_Ann', 'UA-Tap00', '192.0.2.1') AS tok \gset

-- As the gateway: a table read is refused, an api call is not.
SET LOCAL ROLE gateway;
SELECT throws_ok('SELECT count(*) FROM auth.accounts', '42501', NULL, 'the gateway cannot read auth.accounts');
SELECT throws_ok('SELECT secret FROM auth.cursor_keys', '42501', NULL,
                 'the gateway cannot read the keys that sign the cursors (auth.cursor_keys)');
SELECT throws_ok('SELECT response.rotate_cursor_key()', '42501', NULL, 'the gateway cannot rotate the cursor key');
SELECT lives_ok($$SELECT api.availability(ROW(NULL, NULL, NULL, NULL, NULL, NULL), 'nobody_here', NULL)$$,
                'the gateway can call an api function');
SELECT throws_ok($$SELECT request.context(token => 'x')$$, '42501', 'permission denied for schema request',
                 'the gateway cannot call the constructor request.context');
SELECT is(api.current_session(ROW(:'tok', 'UA-Tap00', '192.0.2.1', 'tap00-req', NULL, NULL)) #>> '{account,username}', 'Tap00_Ann',
          'the gateway passes the context as an anonymous ROW(token, browser, ip, request_id, proxy_user, trace_id)');
RESET ROLE;

-- As the sender: its functions, and not a table or a route (pgTAP's schema
-- lent to it for these two assertions; rolled back with the rest).
GRANT USAGE ON SCHEMA tap TO mailer;
SET LOCAL ROLE mailer;
SELECT lives_ok($$SELECT * FROM sender.stats()$$, 'mailer can call a sender function');
SELECT throws_ok('SELECT count(*) FROM mail.outbox', '42501', NULL, 'mailer cannot read the outbox itself');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
