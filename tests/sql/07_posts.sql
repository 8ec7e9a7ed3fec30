-- Posts: the table (sql/migrations/004_publishing.sql), its helpers
-- (sql/code/publishing/posts.sql), the api functions of /posts
-- (sql/code/api/posts.sql), the DBA's auth.set_role (sql/code/auth.sql) and
-- the keyset cursor (response.cursor / response.uncursor). Calls run as the
-- gateway role with pg_temp.ctx (helpers.psql); fixtures and inspections as
-- the superuser (RESET ROLE). Raised errors are checked by SQLSTATE and the
-- code in DETAIL; committed 401s by response.status and the body's code.
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(11);

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

SELECT ok(NOT has_function_privilege('gateway', 'auth.set_role(text, text)', 'EXECUTE'),
          'the gateway may not execute auth.set_role');
SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT auth.set_role('tap07_usr', 'admin')$$, '42501', NULL, 'the gateway cannot give itself a role');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
