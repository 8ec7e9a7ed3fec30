-- The audit log (the tables and their triggers: sql/migrations/003_audit.sql;
-- audit.write: sql/code/audit.sql; the routes: sql/code/api/*.sql): which
-- calls write which rows, with the client IP and request id of the request's
-- context; that failures which must stick log through response.fail (not a
-- raise); that no secret reaches a row; api.admin_logs; api.maintenance;
-- api.readiness (the admin routes, sql/code/api/admin.sql).
-- Calls run as the gateway role, their context built by pg_temp.ctx
-- (helpers.psql); inspections as the superuser (RESET ROLE).
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(78);

\ir helpers.psql

-- The last log row written for a request id, as {level, source, message, ...},
-- and all its messages. SECURITY DEFINER: they inspect while the gateway role is set.
CREATE FUNCTION pg_temp.logged(req text) RETURNS jsonb LANGUAGE sql SECURITY DEFINER AS $$
  SELECT jsonb_build_object('level', l.level, 'source', l.source, 'message', l.message,
                            'account_id', l.account_id, 'client_ip', host(l.client_ip), 'details', l.details)
    FROM audit.logs l WHERE l.request_id = req ORDER BY l.id DESC LIMIT 1
$$;
CREATE FUNCTION pg_temp.messages(req text) RETURNS text[] LANGUAGE sql SECURITY DEFINER AS $$
  SELECT array_agg(l.message ORDER BY l.id) FROM audit.logs l WHERE l.request_id = req
$$;
GRANT EXECUTE ON FUNCTION pg_temp.logged(text), pg_temp.messages(text) TO gateway;

-- The table itself.
SELECT has_table('audit', 'logs', 'audit.logs exists');
SELECT columns_are('audit', 'logs', ARRAY['id', 'logged_at', 'level', 'source', 'message', 'account_id',
                                          'client_ip', 'request_id', 'details', 'trace_id'], 'audit.logs has the documented columns');
SELECT throws_ok($$SELECT audit.write('NOTICE', 'auth', 'x')$$, '23514', NULL, 'a level outside DEBUG/INFO/WARN/ERROR is refused');
SELECT throws_ok($$SELECT audit.write('INFO', 'Auth Service', 'x')$$, '23514', NULL, 'a source must be a lower-case word');
SELECT throws_ok($$SELECT audit.write('INFO', 'auth', 'x', details => '[1]')$$, '23514', NULL, 'details must be an object');
SELECT audit.write('INFO', 'tap06', 'long id', ctx => request.context(request_id => repeat('r', 300))) AS ignored \gset
SELECT is((SELECT length(request_id) FROM audit.logs WHERE source = 'tap06' AND message = 'long id'), 128,
          'an overlong request id is cut to 128 characters, not refused');
SELECT audit.write('INFO', 'tap06', 'with ctx', ctx => request.context(token => 'tap06-secret-token', browser => 'UA-Tap06',
                                                                      ip => '192.0.2.66', request_id => 'tap06-ctx')) AS ignored \gset
SELECT audit.write('INFO', 'tap06', 'without ctx') AS ignored \gset
SELECT results_eq($$SELECT message, host(client_ip), request_id, details FROM audit.logs
                     WHERE source = 'tap06' AND message LIKE 'with%' ORDER BY id$$,
                  $$VALUES ('with ctx', '192.0.2.66', 'tap06-ctx', '{}'::jsonb), ('without ctx', NULL, NULL, '{}')$$,
                  'audit.write takes the client IP and request id from ctx (and nothing else of it), NULL without one');

SET LOCAL ROLE gateway;
SELECT throws_ok('SELECT count(*) FROM audit.logs', '42501', NULL, 'the gateway cannot read the log');
SELECT throws_ok($$SELECT audit.write('INFO', 'api', 'forged')$$, '42501', NULL, 'the gateway cannot write the log');

-- Signup, login, login failures.
SELECT (api.signup(pg_temp.ctx(ip => '198.51.100.1', request_id => 'tap06-signup'),
                   'Tap06_Ann', 'tap06.ann@example.com', 'ann password 1', NULL)::jsonb
        #>> '{account,id}') AS ann \gset
SELECT is(pg_temp.logged('tap06-signup'),
          jsonb_build_object('level', 'INFO', 'source', 'auth', 'message', 'account created', 'account_id', :ann::bigint,
                             'client_ip', '198.51.100.1', 'details', '{"username": "Tap06_Ann"}'::jsonb),
          'signup logs INFO "account created" with the account, IP and request id');
SELECT api.signup(pg_temp.ctx(), 'Tap06_Adm', 'tap06.adm@example.com', 'adm password 1', NULL) #>> '{account,id}' AS adm \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Ann', ip => '198.51.100.2', request_id => 'tap06-login'),
                 'tap06_ann', 'ann password 1') ->> 'token' AS ann1 \gset
SELECT is(pg_temp.logged('tap06-login') - 'details',
          jsonb_build_object('level', 'INFO', 'source', 'auth', 'message', 'login succeeded', 'account_id', :ann::bigint,
                             'client_ip', '198.51.100.2'),
          'a login logs INFO "login succeeded"');
SELECT is(pg_temp.logged('tap06-login') #>> '{details,browser}', 'UA-Ann', '... with the browser');
SELECT is(pg_temp.logged('tap06-login') #>> '{details,session_id}',
          (SELECT (api.current_session(pg_temp.ctx(:'ann1', 'UA-Ann'))::jsonb #>> '{session,id}')), '... and the new session''s id');

SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Ann', ip => '198.51.100.3', request_id => 'tap06-fail-1'),
                                              'tap06_ann', 'not her password')$$),
          '401 INVALID_CREDENTIALS', 'a wrong password: committed 401 (response.fail), so its log row stays');
SELECT is(pg_temp.logged('tap06-fail-1'),
          jsonb_build_object('level', 'WARN', 'source', 'auth', 'message', 'login failed', 'account_id', :ann::bigint,
                             'client_ip', '198.51.100.3', 'details', '{"reason": "wrong password"}'::jsonb),
          'a wrong password logs WARN "login failed", reason "wrong password"');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA', ip => '198.51.100.3', request_id => 'tap06-fail-2'),
                                              'tap06 typed my password here', 'x')$$),
          '401 INVALID_CREDENTIALS', 'an unknown login: committed 401');
SELECT is(pg_temp.logged('tap06-fail-2'),
          jsonb_build_object('level', 'WARN', 'source', 'auth', 'message', 'login failed', 'account_id', NULL,
                             'client_ip', '198.51.100.3', 'details', '{"reason": "unknown login"}'::jsonb),
          'an unknown login logs WARN "login failed", reason "unknown login", without the login typed');

-- Throttling: the failure that reaches a limit also logs "login throttled";
-- refused attempts (429, rolled back) log nothing.
DO $$ BEGIN FOR i IN 1..4 LOOP
  PERFORM api.login(pg_temp.ctx(browser => 'UA-Ann', ip => '198.51.100.4', request_id => 'tap06-fail-n'), 'tap06_ann', 'not her password');
END LOOP; END $$;
SELECT is(pg_temp.messages('tap06-fail-n'), ARRAY['login failed', 'login failed', 'login failed', 'login failed'],
          'failures 1 to 4 from an address: one "login failed" each, no "login throttled" yet');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Ann', ip => '198.51.100.4', request_id => 'tap06-fail-5'),
                                              'tap06_ann', 'not her password')$$),
          '401 INVALID_CREDENTIALS', 'failure 5 from that address is still a 401');
SELECT is(pg_temp.messages('tap06-fail-5'), ARRAY['login failed', 'login throttled'],
          'failure 5 logs "login failed" and "login throttled"');
SELECT is(pg_temp.logged('tap06-fail-5') - 'client_ip',
          jsonb_build_object('level', 'WARN', 'source', 'auth', 'message', 'login throttled', 'account_id', :ann::bigint,
                             'details', '{"keys": ["login_failures"], "retry_after": 900}'::jsonb),
          '"login throttled" names the limit used up and for how long');
SELECT throws_ok($$SELECT api.login(pg_temp.ctx(browser => 'UA-Ann', ip => '198.51.100.4', request_id => 'tap06-blocked'),
                                     'tap06_ann', 'ann password 1')$$, 'PT429', NULL,
                 'the next attempt is refused');
SELECT is(pg_temp.messages('tap06-blocked'), NULL, 'a refused attempt writes no row (no log flood)');
RESET ROLE;
DELETE FROM auth.login_failures WHERE key = 'login_failures:account:' || :ann || ' ip:198.51.100.4';
SET LOCAL ROLE gateway;

-- Sessions: dropped as EXPIRED or BROWSER (WARN, committed), logout, revocations.
SELECT api.login(pg_temp.ctx(browser => 'UA-Ann-2', ip => '198.51.100.5'), 'tap06_ann', 'ann password 1') ->> 'token' AS ann2 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Ann-3', ip => '198.51.100.5'), 'tap06_ann', 'ann password 1') ->> 'token' AS ann3 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Ann-4', ip => '198.51.100.5'), 'tap06_ann', 'ann password 1') ->> 'token' AS ann4 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Ann-5', ip => '198.51.100.5'), 'tap06_ann', 'ann password 1') ->> 'token' AS ann5 \gset
SELECT (api.current_session(pg_temp.ctx(:'ann3', 'UA-Ann-3'))::jsonb #>> '{session,id}') AS ann3_id \gset
RESET ROLE;
UPDATE auth.account_sessions SET expiry_time = now() - interval '1 second' WHERE token_digest = auth.token_digest(:'ann2');
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure(format('SELECT api.current_session(pg_temp.ctx(%L, %L, %L, %L))',
                                 :'ann2', 'UA-Ann-2', '198.51.100.6', 'tap06-expired')),
          '401 EXPIRED', 'an expired session: committed 401 EXPIRED');
SELECT is(pg_temp.logged('tap06-expired') - 'details',
          jsonb_build_object('level', 'WARN', 'source', 'auth', 'message', 'session dropped: expired',
                             'account_id', :ann::bigint, 'client_ip', '198.51.100.6'),
          'the drop of an expired session is logged as WARN in the same (committed) transaction');
SELECT is(pg_temp.failure(format('SELECT api.list_sessions(pg_temp.ctx(%L, %L, %L, %L))',
                                 :'ann3', 'Another-UA', '198.51.100.7', 'tap06-browser')),
          '401 BROWSER', 'a session shown by another browser: committed 401 BROWSER');
SELECT is(pg_temp.logged('tap06-browser'),
          jsonb_build_object('level', 'WARN', 'source', 'auth', 'message', 'session dropped: browser changed',
                             'account_id', :ann::bigint, 'client_ip', '198.51.100.7',
                             'details', jsonb_build_object('session_id', :ann3_id::bigint, 'session_browser', 'UA-Ann-3',
                                                           'browser', 'Another-UA')),
          'the drop of a session shown by another browser is logged as WARN with both browsers');
SELECT is(pg_temp.failure(format('SELECT api.current_session(pg_temp.ctx(%L, %L, NULL, %L))', 'no-such-token', 'UA', 'tap06-invalid')),
          '401 INVALID', 'an unknown token: 401 INVALID');
SELECT is(pg_temp.messages('tap06-invalid'), NULL, '... which logs nothing (no session, no account)');

SELECT api.revoke_session(pg_temp.ctx(:'ann4', 'UA-Ann-4', '198.51.100.8', 'tap06-revoke'),
                          (api.current_session(pg_temp.ctx(:'ann5', 'UA-Ann-5'))::jsonb #>> '{session,id}')::bigint) AS ignored \gset
SELECT is(pg_temp.logged('tap06-revoke') ->> 'message', 'session revoked', 'revoking a session logs "session revoked"');
SELECT api.revoke_other_sessions(pg_temp.ctx(:'ann4', 'UA-Ann-4', '198.51.100.8', 'tap06-revoke-others')) AS ignored \gset
SELECT is(pg_temp.logged('tap06-revoke-others') -> 'details', '{"count": 1}'::jsonb,
          'revoking the other sessions logs "other sessions revoked" with their number');
SELECT api.update_account(pg_temp.ctx(:'ann4', 'UA-Ann-4', '198.51.100.8', 'tap06-update'), 'Ann A.', NULL, NULL) AS ignored \gset
SELECT is(pg_temp.logged('tap06-update') -> 'details', '{"changed": ["display_name"]}'::jsonb,
          'an account change logs "account updated" with the names of the changed fields');
SELECT api.update_account(pg_temp.ctx(:'ann4', 'UA-Ann-4', '198.51.100.8', 'tap06-update-same'),
                          'Ann A.', 'tap06.ann@example.com', NULL) AS ignored \gset
SELECT is(pg_temp.messages('tap06-update-same'), NULL, 'a change that changes nothing logs nothing');

-- Password change, logout, account deletion.
SELECT api.login(pg_temp.ctx(browser => 'UA-Ann-6', ip => '198.51.100.5'), 'tap06_ann', 'ann password 1') ->> 'token' AS ann6 \gset
SELECT is(pg_temp.failure(format('SELECT api.change_password(pg_temp.ctx(%L, %L, %L, %L), %L, %L)', :'ann4', 'UA-Ann-4',
                                 '198.51.100.9', 'tap06-pw-fail', 'wrong current', 'ann password 2')),
          '401 INVALID_CREDENTIALS', 'a wrong current password: committed 401');
SELECT is(pg_temp.logged('tap06-pw-fail') ->> 'message', 'password change failed', '... logged as "password change failed"');
SELECT api.change_password(pg_temp.ctx(:'ann4', 'UA-Ann-4', '198.51.100.9', 'tap06-pw'),
                           'ann password 1', 'ann password 2') AS ignored \gset
SELECT is(pg_temp.logged('tap06-pw') - 'client_ip',
          jsonb_build_object('level', 'INFO', 'source', 'auth', 'message', 'password changed', 'account_id', :ann::bigint,
                             'details', '{"other_sessions_revoked": 1}'::jsonb),
          'a password change logs INFO "password changed" and how many sessions it revoked');
SELECT api.logout(pg_temp.ctx(:'ann4', 'UA-Ann-4', '198.51.100.10', 'tap06-logout')) AS ignored \gset
SELECT is(pg_temp.logged('tap06-logout') - 'details',
          jsonb_build_object('level', 'INFO', 'source', 'auth', 'message', 'logged out', 'account_id', :ann::bigint,
                             'client_ip', '198.51.100.10'),
          'a logout logs INFO "logged out"');

SELECT api.signup(pg_temp.ctx(), 'Tap06_Bea', 'tap06.bea@example.com', 'bea password 1', NULL) #>> '{account,id}' AS bea \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Bea'), 'tap06_bea', 'bea password 1') ->> 'token' AS bea1 \gset
SELECT api.delete_account(pg_temp.ctx(:'bea1', 'UA-Bea', '198.51.100.11', 'tap06-delete'), 'bea password 1') AS ignored \gset
SELECT is(pg_temp.logged('tap06-delete'),
          jsonb_build_object('level', 'INFO', 'source', 'auth', 'message', 'account deleted', 'account_id', :bea::bigint,
                             'client_ip', '198.51.100.11', 'details', '{"username": "Tap06_Bea"}'::jsonb),
          'deleting an account logs INFO "account deleted" with its id and username, which outlive it');

-- Roles change by hand; a trigger logs it.
RESET ROLE;
UPDATE auth.accounts SET role = 'admin' WHERE id = :adm;
SELECT is((SELECT jsonb_build_object('level', level, 'source', source, 'message', message, 'account_id', account_id,
                                     'details', details)
             FROM audit.logs WHERE account_id = :adm ORDER BY id DESC LIMIT 1),
          jsonb_build_object('level', 'INFO', 'source', 'auth', 'message', 'role changed', 'account_id', :adm::bigint,
                             'details', jsonb_build_object('from', 'user', 'to', 'admin', 'by', session_user)),
          'a role change logs INFO "role changed", from, to and by whom');
UPDATE auth.accounts SET role = 'admin', display_name = 'Adm' WHERE id = :adm;
SELECT is((SELECT count(*) FROM audit.logs WHERE account_id = :adm AND message = 'role changed'), 1::bigint,
          'an update that leaves the role as it was logs no role change');

-- No secret in any row: passwords, tokens, token digests, password hashes.
SELECT is((SELECT array_agg(s) FROM unnest(ARRAY[
             'ann password 1', 'ann password 2', 'not her password', 'wrong current', 'bea password 1', 'adm password 1',
             :'ann1', :'ann2', :'ann3', :'ann4', :'ann5', :'ann6', :'bea1', 'tap06-secret-token',
             encode(auth.token_digest(:'ann1'), 'hex'), encode(auth.token_digest(:'ann4'), 'hex'),
             encode(auth.token_digest(:'ann1'), 'base64'),
             (SELECT password_hash FROM auth.accounts WHERE id = :ann)]) s
            WHERE EXISTS (SELECT 1 FROM audit.logs l WHERE strpos(l::text, s) > 0)),
          NULL, 'no password, token, token digest or password hash appears in any log row');

-- ============================================================================
-- api.admin_logs
-- ============================================================================
SET LOCAL ROLE gateway;
SELECT api.login(pg_temp.ctx(browser => 'UA-Adm'), 'tap06_adm', 'adm password 1') ->> 'token' AS adm1 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Ann-7'), 'tap06_ann', 'ann password 2') ->> 'token' AS ann7 \gset

SELECT throws_ok(format('SELECT api.admin_logs(pg_temp.ctx(%L, %L), NULL, NULL, NULL, NULL)', :'ann7', 'UA-Ann-7'), 'PT403',
                 'only admins may read the audit log', 'a plain user gets PT403');
SELECT is(pg_temp.error_of(format('SELECT api.admin_logs(pg_temp.ctx(%L, %L), NULL, NULL, NULL, NULL)', :'ann7', 'UA-Ann-7'))
            #>> '{detail,code}',
          'FORBIDDEN', '... with code FORBIDDEN');
SELECT is(pg_temp.failure(format('SELECT api.admin_logs(pg_temp.ctx(%L, %L), NULL, NULL, NULL, NULL)', 'no-such-token', 'UA-Adm')),
          '401 INVALID', 'an unknown token gets 401 INVALID');

RESET ROLE;
-- A source of this test's own, to page through a known set of rows.
SELECT count(audit.write((ARRAY['DEBUG', 'INFO', 'WARN', 'ERROR', 'INFO'])[i], 'tap06.page', 'row ' || i)) AS ignored
  FROM generate_series(1, 5) i \gset
SET LOCAL ROLE gateway;

SELECT api.admin_logs(pg_temp.ctx(:'adm1', 'UA-Adm'), NULL, 'tap06.page', NULL, 2) AS page1 \gset
SELECT is((SELECT array_agg(e ->> 'message') FROM json_array_elements(:'page1'::json -> 'logs') e),
          ARRAY['row 5', 'row 4'], 'an admin gets the newest rows first, limit rows per page');
SELECT is((SELECT array_agg(k ORDER BY k) FROM json_object_keys(:'page1'::json -> 'logs' -> 0) k),
          ARRAY['account_id', 'client_ip', 'details', 'id', 'level', 'logged_at', 'message', 'request_id', 'source', 'trace_id', 'username'],
          'each row has exactly these keys');
SELECT matches(:'page1'::json #>> '{logs,0,logged_at}', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', 'logged_at is RFC 3339 in UTC');
SELECT isnt(:'page1'::json ->> 'next', NULL, 'a full page has a next cursor');
SELECT api.admin_logs(pg_temp.ctx(:'adm1', 'UA-Adm'), NULL, 'tap06.page', (:'page1'::json ->> 'next')::bigint, 2) AS page2 \gset
SELECT is((SELECT array_agg(e ->> 'message') FROM json_array_elements(:'page2'::json -> 'logs') e),
          ARRAY['row 3', 'row 2'], 'the next cursor gives the following rows');
SELECT api.admin_logs(pg_temp.ctx(:'adm1', 'UA-Adm'), NULL, 'tap06.page', (:'page2'::json ->> 'next')::bigint, 2) AS page3 \gset
SELECT is((SELECT array_agg(e ->> 'message') FROM json_array_elements(:'page3'::json -> 'logs') e),
          ARRAY['row 1'], 'the last page holds the rest');
SELECT is(:'page3'::json ->> 'next', NULL, '... and no next cursor');
SELECT is((SELECT array_agg(e ->> 'message') FROM json_array_elements(
             api.admin_logs(pg_temp.ctx(:'adm1', 'UA-Adm'), 'warn', 'tap06.page', NULL, NULL) -> 'logs') e),
          ARRAY['row 4', 'row 3'], 'level keeps that level and the more severe ones (case ignored)');
SELECT is(json_array_length(api.admin_logs(pg_temp.ctx(:'adm1', 'UA-Adm'), NULL, NULL, NULL, NULL) -> 'logs'), 20,
          'without limit a page holds 20 rows');
SELECT is((SELECT e ->> 'username' FROM json_array_elements(
             api.admin_logs(pg_temp.ctx(:'adm1', 'UA-Adm'), NULL, 'auth', NULL, 100) -> 'logs') e
            WHERE e ->> 'request_id' = 'tap06-signup'),
          'Tap06_Ann', 'a row names its account''s username');
SELECT is(pg_temp.error_of(format('SELECT api.admin_logs(pg_temp.ctx(%L, %L), %L, NULL, %s, %s)', :'adm1', 'UA-Adm', 'LOUD', 0, 101))
            -> 'detail',
          '{"code": "VALIDATION", "details": {"level": "must be one of DEBUG, INFO, WARN, ERROR",
            "limit": "must be between 1 and 100", "before": "is not a cursor from this route"}}'::jsonb,
          'an unknown level, a limit outside 1..100 and a bad cursor are a 422 VALIDATION, per parameter');

-- ============================================================================
-- api.maintenance
-- ============================================================================
RESET ROLE;
-- Fixtures: Adm's sessions, some expired; throttle counters, one stale; old log rows.
SELECT count(api.login(request.context(browser => 'UA-Adm-' || i), 'tap06_adm', 'adm password 1')) AS ignored
  FROM generate_series(1, 4) i \gset
UPDATE auth.account_sessions SET expiry_time = now() - interval '1 second'
 WHERE account_id = :adm AND browser_info IN ('UA-Adm-1', 'UA-Adm-2', 'UA-Adm-3');
INSERT INTO auth.login_failures VALUES ('ip:192.0.2.201', 3, now() - auth.throttle_window() - interval '1 minute'),
                                       ('ip:192.0.2.202', 3, now() - interval '1 minute');
INSERT INTO audit.logs (logged_at, level, source, message)
SELECT now() - interval '91 days', 'INFO', 'tap06.old', 'old' FROM generate_series(1, 3)
UNION ALL SELECT now() - interval '89 days', 'INFO', 'tap06.old', 'recent';

SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT api.maintenance('old_logs', 0)$$, 'PT422', 'invalid batch size', 'a batch size under 1 is refused');
SELECT is(pg_temp.error_of($$SELECT api.maintenance('everything')$$) -> 'detail' -> 'details' ->> 'part',
          'must be one of expired_sessions, throttle_counters, old_logs, expired_activities, old_logins, old_tokens, old_mail, due_reports, daily_digests, weekly_digests',
          'an unknown part is refused, naming the parts');
SELECT throws_ok($$UPDATE audit.settings SET log_retention = '90 days'$$, '42501', NULL,
                 'the gateway cannot change the retention (and so erase the log)');
SELECT api.maintenance('old_logs', batch_size => 2) AS m1 \gset
SELECT is(:'m1'::jsonb, '{"skipped": false, "part": "old_logs", "deleted": 2, "more": true}'::jsonb,
          'a round deletes at most batch_size rows of its part and says more is left');
SELECT is(api.maintenance('expired_sessions', 2)::jsonb ->> 'deleted', '2', '... two expired sessions');
SELECT api.maintenance('old_logs') AS m2 \gset
SELECT is(:'m2'::jsonb ->> 'more', 'false', 'the next round finishes the work');
SELECT is(api.maintenance('expired_sessions')::jsonb ->> 'deleted', '1', '... and the last expired session');
SELECT is(api.maintenance('throttle_counters')::jsonb ->> 'deleted', '1', 'the stale throttle counter, its own part');
RESET ROLE;
SELECT is((SELECT array_agg(browser_info ORDER BY browser_info) FROM auth.account_sessions WHERE account_id = :adm),
          ARRAY['UA-Adm', 'UA-Adm-4'], 'expired sessions are gone, live ones kept');
SELECT is((SELECT array_agg(key) FROM auth.login_failures WHERE key LIKE 'ip:192.0.2.20_'), ARRAY['ip:192.0.2.202'],
          'a stale throttle counter is gone, a live one kept');
SELECT is((SELECT array_agg(message) FROM audit.logs WHERE source = 'tap06.old'), ARRAY['recent'],
          'log rows older than the retention (90 days) are gone, younger ones kept');
SELECT is((SELECT array_agg(details ORDER BY id) FROM audit.logs WHERE source = 'db' AND message = 'maintenance'),
          ARRAY['{"old_logs": 2, "log_retention": "90 days"}', '{"expired_sessions": 2}', '{"old_logs": 1, "log_retention": "90 days"}',
                '{"expired_sessions": 1}', '{"throttle_counters": 1}']::jsonb[],
          'a round that deletes something logs what it deleted');
SELECT is(api.maintenance(p)::jsonb, jsonb_build_object('skipped', false, 'part', p, 'deleted', 0, 'more', false),
          format('running %s again changes nothing (idempotent)', p))
  FROM unnest(ARRAY['expired_sessions', 'throttle_counters', 'old_logs']) p;
SELECT throws_ok($$UPDATE audit.settings SET log_retention = '23 hours'$$, '23514', NULL,
                 'the owner cannot set a retention under a day');
UPDATE audit.settings SET log_retention = '80 days';
SELECT is((SELECT details FROM audit.logs WHERE source = 'audit' ORDER BY id DESC LIMIT 1),
          jsonb_build_object('from', '90 days', 'to', '80 days', 'by', session_user),
          'a retention change is logged, with who made it');
SELECT is(api.maintenance('old_logs')::jsonb ->> 'deleted', '1', 'a shorter retention is honoured');

-- api.readiness (sql/code/api/admin.sql): the applied migration version, the
-- installed code package's digest, and whether the login may assert
-- identities (13_sessions_proxy_identity.sql).
SELECT version AS schema_version FROM public.schema_version \gset
SELECT digest AS code_digest FROM public.code_package WHERE name = 'sql/code' \gset
SET LOCAL ROLE gateway;
SELECT api.readiness() AS readiness \gset
SELECT is((SELECT array_agg(k ORDER BY k) FROM json_object_keys(:'readiness'::json) k), ARRAY['code', 'proxy_trusted', 'version'],
          'readiness answers {"version", "code", "proxy_trusted"}');
SELECT is((:'readiness'::jsonb ->> 'version')::int, :schema_version, 'readiness returns the version tern recorded');
SELECT cmp_ok((:'readiness'::jsonb ->> 'version')::int, '>=', 3,
              '... which includes the migrations these tests need (up to 003_audit)');
SELECT matches(:'readiness'::jsonb ->> 'code', '^[0-9a-f]{64}$', 'readiness returns the code package''s SHA-256 in hex');
SELECT is(:'readiness'::jsonb ->> 'code', :'code_digest', '... the digest public.code_package records for sql/code');

RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
