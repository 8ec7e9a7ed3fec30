-- The privilege model: the gateway role reaches api functions and nothing else.
-- (Schema tap is pgTAP itself, installed by scripts/test for the test database only.)
BEGIN;
SELECT plan(9);

SELECT ok(NOT rolcanlogin, 'the owner role cannot log in') FROM pg_roles WHERE rolname = 'app_owner';
SELECT ok(rolcanlogin AND NOT rolsuper AND NOT rolcreaterole AND NOT rolcreatedb,
          'the gateway role logs in and holds no special attribute')
  FROM pg_roles WHERE rolname = 'gateway';

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

-- api functions run as the owner with a pinned search_path.
SELECT is_empty($$
  SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname = 'api'
     AND NOT (p.prosecdef AND pg_get_userbyid(p.proowner) = 'app_owner'
              AND EXISTS (SELECT 1 FROM unnest(p.proconfig) c WHERE c LIKE 'search_path=%'))
$$, 'every api function is SECURITY DEFINER, owned by app_owner, with a fixed search_path');

-- As the gateway: a table read is refused, an api call is not.
SET LOCAL ROLE gateway;
SELECT throws_ok('SELECT count(*) FROM auth.accounts', '42501', NULL, 'the gateway cannot read auth.accounts');
SELECT lives_ok($$SELECT api.availability('nobody_here', NULL)$$, 'the gateway can call an api function');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
