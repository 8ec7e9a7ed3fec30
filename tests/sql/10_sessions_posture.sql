-- Session posture (sql/migrations/005_session_posture.sql; auth.check_session,
-- auth.disable_account, auth.enable_account in sql/code/auth.sql; api.login in
-- sql/code/api/sessions.sql): the inactivity timeout beside the absolute
-- expiry, and disabled accounts.
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(27);

\ir helpers.psql

-- Fixture: two accounts whose password is "tap10 password" (bcrypt cost 4: fast).
INSERT INTO auth.accounts (username, email, password_hash) VALUES
  ('Tap10_Ann', 'tap10.ann@example.com', ext.crypt('tap10 password', ext.gen_salt('bf', 4))),
  ('Tap10_Ben', 'tap10.ben@example.com', ext.crypt('tap10 password', ext.gen_salt('bf', 4)));
SELECT id AS ann FROM auth.accounts WHERE username = 'Tap10_Ann' \gset
SELECT id AS ben FROM auth.accounts WHERE username = 'Tap10_Ben' \gset

-- The settings row and its bounds.
SELECT is((SELECT session_idle_timeout FROM auth.settings), interval '14 days', 'the idle timeout defaults to 14 days');
SELECT throws_ok($$UPDATE auth.settings SET session_idle_timeout = interval '1 minute'$$, '23514', NULL,
                 'an idle timeout under 5 minutes is refused');
SELECT throws_ok($$INSERT INTO auth.settings (only_one) VALUES (false)$$, '23514', NULL, 'there is one settings row');
UPDATE auth.settings SET session_idle_timeout = interval '7 days';
SELECT is((SELECT details FROM audit.logs WHERE message = 'session idle timeout changed' ORDER BY id DESC LIMIT 1),
          jsonb_build_object('from', '14 days', 'to', '7 days', 'by', session_user::text),
          'a timeout change is logged with who made it');

-- Idle: last_used older than the timeout is EXPIRED, and the session goes.
SELECT auth.create_account_session('Tap10_Ann', 'UA-10', NULL) AS t_idle \gset
UPDATE auth.account_sessions SET last_used = now() - interval '7 days' WHERE token_digest = auth.token_digest(:'t_idle');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_idle', 'UA-10', request_id => 'tap10-idle'))),
          'EXPIRED', 'a session unused for the timeout is EXPIRED');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_idle')), 0::bigint,
          '... and deleted');
SELECT is((SELECT message FROM audit.logs WHERE request_id = 'tap10-idle'), 'session dropped: idle',
          '... and the drop is logged as idle');
SELECT auth.create_account_session('Tap10_Ann', 'UA-10b', NULL) AS t_busy \gset
UPDATE auth.account_sessions SET last_used = now() - interval '7 days' + interval '1 minute'
 WHERE token_digest = auth.token_digest(:'t_busy');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_busy', 'UA-10b'))), 'OK',
          'a session used a minute inside the timeout is OK');
SELECT is((SELECT last_used FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_busy')), now(),
          '... and its use refreshes last_used, restarting the idle clock');
UPDATE auth.settings SET session_idle_timeout = interval '30 days';
UPDATE auth.account_sessions SET last_used = now() - interval '20 days' WHERE token_digest = auth.token_digest(:'t_busy');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_busy', 'UA-10b'))), 'OK',
          'a longer timeout (the settings row) keeps a 20-days-idle session');
SELECT is(pg_temp.failure(format($$SELECT api.current_session(request.context(%L, 'UA-10b'))$$, :'t_busy')), '- -',
          'api.current_session answers it');
UPDATE auth.settings SET session_idle_timeout = interval '14 days';
UPDATE auth.account_sessions SET last_used = now() - interval '15 days' WHERE token_digest = auth.token_digest(:'t_busy');
SELECT is(pg_temp.failure(format($$SELECT api.current_session(request.context(%L, 'UA-10b'))$$, :'t_busy')), '401 EXPIRED',
          'through the api, an idle session is a committed 401 EXPIRED');

-- Disabling: every session ends, logins fail as a wrong password does.
SELECT auth.create_account_session('Tap10_Ben', 'UA-1', NULL) AS t_ben1 \gset
SELECT auth.create_account_session('Tap10_Ben', 'UA-2', NULL) AS t_ben2 \gset
SELECT is(auth.disable_account('tap10_ben'), 2, 'disable_account ends both sessions (the name ignores case)');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :ben), 0::bigint, 'no session of it is left');
SELECT isnt((SELECT disabled_at FROM auth.accounts WHERE id = :ben), NULL, 'disabled_at is set');
SELECT is((SELECT details - 'by' FROM audit.logs WHERE message = 'account disabled' AND account_id = :ben),
          '{"sessions_ended": 2}'::jsonb, 'the disabling is logged with the sessions it ended');
SELECT is(auth.disable_account('Tap10_Ben'), 0, 'disabling again ends nothing');
SELECT is((SELECT count(*) FROM audit.logs WHERE message = 'account disabled' AND account_id = :ben), 1::bigint,
          '... and logs nothing more');

SELECT api.login(request.context(browser => 'UA-1', ip => '192.0.2.10'), 'Tap10_Ann', 'not her password') AS wrong \gset
SELECT is(pg_temp.failure($$SELECT api.login(request.context(browser => 'UA-1', ip => '192.0.2.10', request_id => 'tap10-dis'),
                                             'Tap10_Ben', 'tap10 password')$$),
          '401 INVALID_CREDENTIALS', 'the right password of a disabled account: a committed 401 INVALID_CREDENTIALS');
SELECT is((api.login(request.context(browser => 'UA-1', ip => '192.0.2.11'), 'Tap10_Ben', 'tap10 password')::jsonb),
          :'wrong'::jsonb, '... with exactly the body of a wrong password');
SELECT is((SELECT details FROM audit.logs WHERE request_id = 'tap10-dis'), '{"reason": "account disabled"}'::jsonb,
          'the log says why, the client is not told');
SELECT throws_ok($$SELECT auth.disable_account('tap10_nobody')$$, 'PT404', 'account tap10_nobody does not exist',
                 'an unknown account is PT404');

-- Enabling: the password works again.
SELECT lives_ok($$SELECT auth.enable_account('Tap10_Ben')$$, 'enable_account');
SELECT is((SELECT disabled_at FROM auth.accounts WHERE id = :ben), NULL, 'disabled_at is cleared');
SELECT ok((api.login(request.context(browser => 'UA-1', ip => '192.0.2.12'), 'Tap10_Ben', 'tap10 password')->>'token') IS NOT NULL,
          'the account logs in again');
SELECT throws_ok($$SELECT auth.enable_account('tap10_nobody')$$, 'PT404', 'account tap10_nobody does not exist',
                 'enabling an unknown account is PT404');

-- Only a DBA: the gateway can call neither.
SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT auth.disable_account('Tap10_Ann')$$, '42501', NULL, 'the gateway cannot disable an account');
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
