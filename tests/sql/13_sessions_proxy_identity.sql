-- The proxy-asserted identity (sql/migrations/010_proxy_identity.sql;
-- auth.proxy_trusted and auth.check_session in sql/code/auth.sql; the
-- session routes in sql/code/api/sessions.sql): ctx.proxy_user is believed
-- only from a login that is a member of gateway_proxy, and every change made
-- under it is audit-logged. The calls run with the connection's login
-- switched (SET LOCAL SESSION AUTHORIZATION), since the check reads
-- session_user, which SET ROLE does not change.
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(28);

\ir helpers.psql

INSERT INTO auth.accounts (username, email, password_hash) VALUES
  ('Tap13_Ann', 'tap13.ann@example.com', ext.crypt('tap13 password', ext.gen_salt('bf', 4))),
  ('Tap13_Dee', 'tap13.dee@example.com', auth.dummy_password_hash());
SELECT id AS ann FROM auth.accounts WHERE username = 'Tap13_Ann' \gset
SELECT id AS dee FROM auth.accounts WHERE username = 'Tap13_Dee' \gset
SELECT auth.disable_account('Tap13_Dee') \gset
SELECT auth.create_account_session('Tap13_Ann', 'UA-13', NULL) AS tok \gset
SELECT auth.create_account_session('Tap13_Ann', 'UA-13b', NULL) AS tok_b \gset

-- The roles, as the scripts create them.
SELECT ok(NOT pg_has_role('gateway', 'gateway_proxy', 'MEMBER'), 'the ordinary gateway is not a member of gateway_proxy');

-- ---------------------------------------------------------------------------
-- The ordinary gateway role: proxy_user is refused, never believed
-- ---------------------------------------------------------------------------
SET LOCAL SESSION AUTHORIZATION gateway;
SELECT pg_temp.failure($$SELECT api.current_session(ROW(NULL, 'UA-13', '192.0.2.13', 'tap13-gw', 'Tap13_Ann', NULL))$$) AS gw_call \gset
SELECT pg_temp.failure(format($$SELECT api.current_session(ROW(%L, 'UA-13', '192.0.2.13', 'tap13-gw2', 'Tap13_Ann', NULL))$$, :'tok'))
    AS gw_with_token \gset
SELECT pg_temp.failure($$SELECT api.create_tracker(ROW(NULL, 'UA-13', NULL, 'tap13-gw3', 'Tap13_Ann', NULL), 'gw', NULL, 'note', NULL, NULL)$$)
    AS gw_write \gset
SELECT (api.readiness()->>'proxy_trusted')::boolean AS gw_ready_trusted \gset
RESET SESSION AUTHORIZATION;

SELECT is(:'gw_call'::text, '401 INVALID', 'proxy_user from the gateway role: a committed 401 INVALID');
SELECT is(:'gw_with_token'::text, '401 INVALID', '... even with a valid token beside it (the assertion is not ignored for the token)');
SELECT is(:'gw_write'::text, '401 INVALID', '... and a write is refused the same way');
SELECT is((SELECT count(*) FROM tracking.trackers WHERE account_id = :ann), 0::bigint, '... and writes nothing');
SELECT is((SELECT details FROM audit.logs WHERE request_id = 'tap13-gw'),
          '{"by": "gateway", "reason": "the database role is not a member of gateway_proxy", "proxy_user": "Tap13_Ann"}'::jsonb,
          'the refusal is logged with the role that tried');
SELECT is((SELECT level || ' ' || message FROM audit.logs WHERE request_id = 'tap13-gw'), 'WARN proxy identity refused',
          '... as WARN proxy identity refused');
SELECT is(:'gw_ready_trusted'::boolean, false, 'api.readiness() tells the gateway role it is not trusted');

-- A setting forged by hand does not make audit rows in a proxy's name.
SET LOCAL SESSION AUTHORIZATION gateway;
SET LOCAL auth.proxy_identity = '{"account_id": 1, "proxy_user": "forged"}';
SELECT api.signup(ROW(NULL, 'UA-13', NULL, 'tap13-forged', NULL, NULL), 'tap13_eve', 'tap13.eve@example.com',
                  'tap13 password', NULL) \gset
RESET SESSION AUTHORIZATION;
SELECT is((SELECT array_agg(source || ' ' || message ORDER BY id) FROM audit.logs WHERE request_id = 'tap13-forged'),
          ARRAY['auth account created'], 'a forged auth.proxy_identity from the gateway role writes no proxy row');
SET LOCAL auth.proxy_identity = '';

-- ---------------------------------------------------------------------------
-- gateway_proxy: the name is the account
-- ---------------------------------------------------------------------------
SET LOCAL SESSION AUTHORIZATION gateway_proxy;
SELECT (api.readiness()->>'proxy_trusted')::boolean AS px_ready_trusted \gset
SELECT api.current_session(ROW(NULL, 'UA-any', '192.0.2.13', 'tap13-px', 'tap13_ann', NULL)) AS px_session \gset
SELECT pg_temp.failure($$SELECT api.current_session(ROW(NULL, 'UA-13', NULL, 'tap13-unknown', 'tap13_nobody', NULL))$$) AS px_unknown \gset
SELECT api.current_session(ROW(NULL, 'UA-13', NULL, 'tap13-unknown2', 'tap13_nobody', NULL)) AS px_unknown_body \gset
SELECT pg_temp.failure($$SELECT api.current_session(ROW(NULL, 'UA-13', NULL, 'tap13-disabled', 'Tap13_Dee', NULL))$$) AS px_disabled \gset
SELECT api.current_session(ROW(:'tok', 'UA-13', NULL, 'tap13-token', NULL, NULL)) AS px_token_session \gset
SELECT api.create_tracker(ROW(NULL, 'UA-13', '192.0.2.13', 'tap13-create', 'Tap13_Ann', NULL), 'Weight', NULL, 'numerical', 'kg', 'weight')
    AS px_tracker \gset
SELECT api.create_tracker_log(ROW(NULL, 'UA-13', '192.0.2.13', 'tap13-log', 'Tap13_Ann', NULL), (:'px_tracker'::json #>> '{tracker,id}')::bigint,
                              71.5, NULL, NULL, NULL, NULL, NULL) \gset
SELECT api.list_trackers(ROW(NULL, 'UA-13', NULL, 'tap13-read', 'Tap13_Ann', NULL)) \gset
SELECT api.create_tracker(ROW(:'tok', 'UA-13', NULL, 'tap13-token-write', NULL, NULL), 'Sleep', NULL, 'note', NULL, NULL) \gset
SELECT api.list_sessions(ROW(NULL, 'UA-13', NULL, 'tap13-list', 'Tap13_Ann', NULL)) AS px_sessions \gset
SELECT pg_temp.error_of($$SELECT api.logout(ROW(NULL, 'UA-13', NULL, 'tap13-logout', 'Tap13_Ann', NULL))$$) AS px_logout \gset
SELECT api.revoke_other_sessions(ROW(NULL, 'UA-13', '192.0.2.13', 'tap13-revoke', 'Tap13_Ann', NULL)) \gset
RESET SESSION AUTHORIZATION;

SELECT is(:'px_ready_trusted'::boolean, true, 'api.readiness() tells gateway_proxy it is trusted');
SELECT is((:'px_session'::jsonb) #>> '{account,id}', :'ann'::text, 'gateway_proxy with proxy_user acts as that account (the name ignores case)');
SELECT is((:'px_session'::jsonb) -> 'session', 'null'::jsonb, '... with no session');
SELECT is((:'px_session'::jsonb) ->> 'identity', 'proxy', '... and identity "proxy"');
SELECT is(:'px_unknown'::text, '401 INVALID', 'an unknown name: a committed 401 INVALID');
SELECT is((:'px_unknown_body'::jsonb) ->> 'message', 'the user the proxy names is not an enabled account', '... saying so');
SELECT is(:'px_disabled'::text, '401 INVALID', 'a disabled account: 401 INVALID');
SELECT is((:'px_token_session'::jsonb) ->> 'identity', 'token', 'gateway_proxy without proxy_user: the token as usual');
SELECT is((:'px_tracker'::jsonb) #>> '{tracker,name}', 'Weight', 'a write as the proxy-asserted account succeeds');

-- The audit trail of the proxy's changes: one row per request that changed something.
SELECT is((SELECT jsonb_build_object('level', level, 'account_id', account_id, 'client_ip', host(client_ip),
                                     'identity', details->'identity', 'proxy_user', details->'proxy_user',
                                     'by', details->'by', 'changes', details->'changes')
             FROM audit.logs WHERE request_id = 'tap13-create' AND source = 'proxy'),
          jsonb_build_object('level', 'INFO', 'account_id', :ann, 'client_ip', '192.0.2.13', 'identity', 'proxy',
                             'proxy_user', 'Tap13_Ann', 'by', 'gateway_proxy', 'changes', '["INSERT tracking.trackers"]'::jsonb),
          'creating a tracker is logged with the identity''s source, the name as asserted and the login');
SELECT is((SELECT count(*) FROM audit.logs WHERE request_id = 'tap13-log'), 1::bigint,
          'a request that changes two tables is one row');
SELECT is((SELECT array_agg(c ORDER BY c) FROM audit.logs, jsonb_array_elements_text(details->'changes') c
            WHERE request_id = 'tap13-log'),
          ARRAY['INSERT tracking.logs', 'UPDATE tracking.trackers'], '... listing both changes');
SELECT is((SELECT count(*) FROM audit.logs WHERE request_id = 'tap13-read'), 0::bigint, 'a read logs nothing');
SELECT is((SELECT count(*) FROM audit.logs WHERE request_id = 'tap13-token-write'), 0::bigint,
          'a token request on the same connection after a proxy one is not logged as the proxy''s');
SELECT is((SELECT count(*) FROM audit.logs WHERE request_id IN ('tap13-unknown', 'tap13-disabled')), 0::bigint,
          'an unknown or disabled name logs nothing');

-- The routes about sessions.
SELECT is((SELECT array_agg(s->>'current') FROM json_array_elements(:'px_sessions'::json -> 'sessions') s),
          ARRAY['false', 'false'], 'GET /sessions: the account''s token sessions, none of them current');
SELECT is(:'px_logout'::jsonb #>> '{sqlstate}', 'PT409', 'DELETE /session: 409, there is no session to end');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :ann), 0::bigint,
          'DELETE /sessions: every token session of the account is revoked');
SELECT is((SELECT jsonb_agg(message || ' ' || (details->>'identity') ORDER BY message) FROM audit.logs WHERE request_id = 'tap13-revoke'),
          '["changed by a proxy-asserted identity proxy", "other sessions revoked proxy"]'::jsonb,
          '... logged by the function and by the trigger, both marked "identity": "proxy"');

SELECT * FROM finish();
ROLLBACK;
