-- api functions for accounts and sessions (sql/code/api/accounts.sql,
-- sql/code/api/sessions.sql) and api.readiness (sql/code/api/admin.sql),
-- called as the gateway role, as the gateway calls them: the request's
-- context first, built by pg_temp.ctx (helpers.psql; the gateway role cannot
-- use schema request, so not request.context). Raised errors are checked by
-- SQLSTATE (and the code in DETAIL); committed failures (response.fail) by
-- the body's $status and code. Inspections of tables run as the
-- superuser (RESET ROLE), since the gateway can read none.
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(120);

\ir helpers.psql

SELECT version AS schema_version FROM public.schema_version \gset
SELECT digest AS code_digest FROM public.code_package WHERE name = 'sql/code' \gset

SET LOCAL ROLE gateway;

-- api.signup: 201 {"account": {...}} with the display_name defaulting to the username.
SELECT api.signup(pg_temp.ctx(), 'Tap05_Amy', 'Tap05.Amy@Example.com', 'amy password 1', NULL) AS amy_signup \gset
SELECT (:'amy_signup'::jsonb #>> '{account,id}') AS amy \gset
SELECT is((SELECT array_agg(k) FROM jsonb_object_keys(:'amy_signup'::jsonb) k), ARRAY['account'],
          'signup returns {"account": ...}');
SELECT is((:'amy_signup'::jsonb -> 'account') - 'id' - 'created_at',
          '{"username": "Tap05_Amy", "display_name": "Tap05_Amy", "email": "Tap05.Amy@Example.com", "role": "user"}'::jsonb,
          'signup returns the account with username and e-mail as spelled, display_name = username, role user');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'amy_signup'::jsonb -> 'account') k),
          ARRAY['created_at', 'display_name', 'email', 'id', 'role', 'username'],
          'the account JSON has exactly these keys (no password hash)');
SELECT matches(:'amy_signup'::jsonb #>> '{account,created_at}', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$',
               'created_at is RFC 3339 in UTC');
SELECT is((:'amy_signup'::jsonb #>> '{account,created_at}')::timestamptz, now(), 'created_at is the signup time');
SELECT is(api.signup(pg_temp.ctx(), 'Tap05_Bob', 'tap05.bob@example.com', 'bob password 1', 'Bob B.')::jsonb #>> '{account,display_name}',
          'Bob B.', 'signup keeps a given display_name');
SELECT is(api.signup(pg_temp.ctx(), 'Tap05_Cat', 'tap05.cat@example.com', 'cat password 1', '')::jsonb #>> '{account,display_name}',
          'Tap05_Cat', 'signup with an empty display_name falls back to the username');
SELECT (api.signup(pg_temp.ctx(), 'Tap05_Dan', 'tap05.dan@example.com', 'dan password 1', NULL)::jsonb #>> '{account,id}') AS dan \gset
SELECT (api.signup(pg_temp.ctx(), 'Tap05_Fay', 'tap05.fay@example.com', 'fay password 1', NULL)::jsonb #>> '{account,id}') AS fay \gset

-- api.signup: 422 VALIDATION with per-field details.
SELECT throws_ok($$SELECT api.signup(pg_temp.ctx(), NULL, NULL, NULL, NULL)$$, 'PT422', 'some fields are invalid',
                 'signup without fields raises PT422');
SELECT is(pg_temp.error_of($$SELECT api.signup(pg_temp.ctx(), NULL, NULL, NULL, NULL)$$) -> 'detail',
          '{"code": "VALIDATION", "details": {"username": "required", "email": "required", "password": "required"}}'::jsonb,
          'each missing field is reported as required');
SELECT throws_ok($$SELECT api.signup(pg_temp.ctx(), 'a b', 'not-an-email', 'short', NULL)$$, 'PT422', 'some fields are invalid',
                 'signup with malformed fields raises PT422');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(
             pg_temp.error_of($$SELECT api.signup(pg_temp.ctx(), 'a b', 'not-an-email', 'short', repeat('d', 65))$$) #> '{detail,details}') k),
          ARRAY['display_name', 'email', 'password', 'username'], 'each malformed field is reported');
SELECT is(pg_temp.error_of(format('SELECT api.signup(pg_temp.ctx(), %L, %L, %L, NULL)', 'tap05_long', 'tap05.long@example.com', repeat('é', 37)))
            #> '{detail,details}',
          '{"password": "must be at most 72 bytes"}'::jsonb, 'a 37-character, 74-byte password is refused, not truncated');

-- api.signup: 409 USERNAME_TAKEN / EMAIL_TAKEN, ignoring case; committed
-- (response.fail), so that the attempt stays counted per IP.
SELECT is(api.signup(pg_temp.ctx(), 'TAP05_AMY', 'tap05.other@example.com', 'other password', NULL)::jsonb,
          '{"$status": 409, "code": "USERNAME_TAKEN", "message": "that username is taken", "details": null, "hint": null}',
          'a taken username (other case) is a committed 409 USERNAME_TAKEN');
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(), 'TAP05_AMY', 'tap05.other@example.com', 'other password', NULL)$$),
          '409 USERNAME_TAKEN', '... again');
SELECT is(api.signup(pg_temp.ctx(), 'tap05_other', 'TAP05.AMY@EXAMPLE.COM', 'other password', NULL)::jsonb,
          '{"$status": 409, "code": "EMAIL_TAKEN", "message": "that e-mail address is already registered", "details": null, "hint": null}',
          'a taken e-mail (other case) is a committed 409 EMAIL_TAKEN');
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(), 'tap05_other', 'TAP05.AMY@EXAMPLE.COM', 'other password', NULL)$$),
          '409 EMAIL_TAKEN', '... again');

-- api.signup: losing a race to a concurrent signup (simulated by a trigger
-- that inserts the conflicting row after the availability check) is still a 409.
RESET ROLE;
CREATE FUNCTION pg_temp.tap05_race() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.username::text = 'tap05_racer_email' THEN
    INSERT INTO auth.accounts (username, email, password_hash) VALUES ('tap05_winner', NEW.email, NEW.password_hash);
  ELSIF NEW.username::text = 'tap05_racer_name' THEN
    INSERT INTO auth.accounts (username, email, password_hash)
    VALUES (upper(NEW.username::text), 'tap05.winner@example.com', NEW.password_hash);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER tap05_race BEFORE INSERT ON auth.accounts FOR EACH ROW EXECUTE FUNCTION pg_temp.tap05_race();
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(), 'tap05_racer_email', 'tap05.racer@example.com', 'racer password', NULL)$$),
          '409 EMAIL_TAKEN', 'an e-mail taken between the check and the insert is a committed 409 EMAIL_TAKEN');
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(), 'tap05_racer_name', 'tap05.racer@example.com', 'racer password', NULL)$$),
          '409 USERNAME_TAKEN', 'a username taken between the check and the insert is a committed 409 USERNAME_TAKEN');
RESET ROLE;
DROP TRIGGER tap05_race ON auth.accounts;
SET LOCAL ROLE gateway;

-- api.availability: {"status": "USERNAME" | "EMAIL" | "OK"}, ignoring case; 422 without arguments.
SELECT is(api.availability(pg_temp.ctx(), 'tap05_amy', NULL)::jsonb,
          '{"status": "USERNAME"}', 'a taken username (other case) answers USERNAME');
SELECT is(api.availability(pg_temp.ctx(), NULL, 'TAP05.AMY@EXAMPLE.COM')::jsonb,
          '{"status": "EMAIL"}', 'a taken e-mail (other case) answers EMAIL');
SELECT is(api.availability(pg_temp.ctx(), 'tap05_free', 'tap05.free@example.com')::jsonb, '{"status": "OK"}', 'free ones answer OK');
SELECT is(api.availability(pg_temp.ctx(), 'tap05_racer_email', 'tap05.racer@example.com')::jsonb, '{"status": "OK"}',
          'the raced signups left nothing behind');
SELECT throws_ok($$SELECT api.availability(pg_temp.ctx(), NULL, NULL)$$, 'PT422', 'give a username, an email or both',
                 'availability without arguments raises PT422');

-- api.login by username (any case): a 43-character token, its expiry, the account; no $status.
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-1', ip => '203.0.113.5'), 'tap05_amy', 'amy password 1') AS amy1_json \gset
SELECT :'amy1_json'::jsonb ->> 'token' AS amy1 \gset
SELECT is(:'amy1_json'::jsonb ->> '$status', NULL, 'a successful login''s body has no $status');
SELECT matches(:'amy1'::text, '^[A-Za-z0-9_-]{43}$', 'login returns a 43-character base64url token');
SELECT is((:'amy1_json'::jsonb ->> 'expires_at')::timestamptz, now() + interval '30 days', 'the session expires in 30 days');
SELECT matches(:'amy1_json'::jsonb ->> 'expires_at', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', 'expires_at is RFC 3339 in UTC');
SELECT is(:'amy1_json'::jsonb -> 'account', :'amy_signup'::jsonb -> 'account', 'login returns the account JSON');

-- api.login: a wrong password and an unknown login give the same committed 401.
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), 'Tap05_Amy', 'amy password 2')$$),
          '401 INVALID_CREDENTIALS', 'a wrong password is a committed 401 INVALID_CREDENTIALS');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), 'tap05_nobody', 'amy password 1')$$),
          '401 INVALID_CREDENTIALS', 'an unknown login is a committed 401 INVALID_CREDENTIALS');
SELECT is(api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), 'Tap05_Amy', 'amy password 2')::jsonb,
          api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), 'tap05.nobody@example.com', 'amy password 2')::jsonb,
          'the bodies of both are identical');
SELECT throws_ok($$SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), NULL, 'amy password 1')$$, 'PT422',
                 'login and password are required', 'login without a login raises PT422');
SELECT is(pg_temp.error_of($$SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), NULL, NULL)$$) #> '{detail,details}',
          '{"login": "required", "password": "required"}'::jsonb, 'both missing fields are reported');
RESET ROLE;
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'login_failures:account:' || :'amy' || ' ip:203.0.113.5'), 2,
          'the wrong passwords were counted against the account and the address');
SELECT is((SELECT failures FROM auth.login_failures
            WHERE key = 'login_failures:login:' || encode(sha256(convert_to('tap05_nobody', 'UTF8')), 'hex') || ' ip:203.0.113.5'), 1,
          'the unknown login was counted against its digest and the address');
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'login_failures_ip:ip:203.0.113.5'), 4,
          'every failure was counted against the IP');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE browser_info = 'UA-Amy-9'), 0::bigint,
          'failed logins create no session');
SET LOCAL ROLE gateway;

-- api.login by e-mail (any case) succeeds, clears the account's failures, tracks logins.
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-2', ip => '203.0.113.6'), 'TAP05.amy@EXAMPLE.com', 'amy password 1') ->> 'token' AS amy2 \gset
SELECT matches(:'amy2'::text, '^[A-Za-z0-9_-]{43}$', 'login by e-mail in another case returns a token');
RESET ROLE;
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'login_failures:account:' || :'amy' || ' ip:203.0.113.5'), 2,
          'a successful login from another address leaves the failures from the first (the block is per address)');
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'login_failures_ip:ip:203.0.113.5'), 4, '... and that address''s own');
SELECT results_eq(format($$SELECT login_count, last_login_ip, current_login_ip, current_login_at FROM auth.accounts WHERE id = %s$$, :'amy'),
                  $$VALUES (2, '203.0.113.5'::inet, '203.0.113.6'::inet, now())$$, 'logins are tracked on the account');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :amy), 2::bigint, 'Amy has two sessions');
SET LOCAL ROLE gateway;

-- api.login: 5 failures of an account from one address block that address
-- (PT429), even with the right password; so do 20 from an IP, whatever the login.
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap05_cat', 'wrong password')$$),
          '401 INVALID_CREDENTIALS', 'Cat''s failed login 1');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap05_cat', 'wrong password')$$),
          '401 INVALID_CREDENTIALS', 'Cat''s failed login 2');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap05.cat@example.com', 'wrong password')$$),
          '401 INVALID_CREDENTIALS', 'Cat''s failed login 3, by e-mail');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'TAP05_CAT', 'wrong password')$$),
          '401 INVALID_CREDENTIALS', 'Cat''s failed login 4');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap05_cat', 'wrong password')$$),
          '401 INVALID_CREDENTIALS', 'Cat''s failed login 5');
SELECT throws_ok($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap05_cat', 'cat password 1')$$, 'PT429',
                 'too many attempts; try again later', 'after 5 failures from an address even the right password raises PT429 there');
SELECT is(pg_temp.error_of($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap05_cat', 'cat password 1')$$) -> 'detail',
          '{"code": "RATE_LIMITED", "details": {"retry_after": 900}}'::jsonb, '... with code RATE_LIMITED and retry_after');
SELECT matches(api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.9'), 'tap05_cat', 'cat password 1') ->> 'token',
               '^[A-Za-z0-9_-]{43}$', 'from another address Cat logs in: nobody can lock her out from everywhere');
DO $$ BEGIN FOR i IN 1..5 LOOP PERFORM api.login(pg_temp.ctx(browser => 'UA-Ghost'), 'Tap05_Ghost', 'whatever'); END LOOP; END $$;
SELECT throws_ok($$SELECT api.login(pg_temp.ctx(browser => 'UA-Ghost'), 'tap05_ghost', 'whatever')$$, 'PT429', NULL,
                 'an unknown login is throttled like a known one');
RESET ROLE;
INSERT INTO auth.login_failures (key, failures, window_start) VALUES ('login_failures_ip:ip:203.0.113.99', 20, now());
SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT api.login(pg_temp.ctx(browser => 'UA-Bob', ip => '203.0.113.99'), 'tap05_bob', 'bob password 1')$$, 'PT429', NULL,
                 'an IP with 20 failures is blocked, even for a right password');
SELECT api.login(pg_temp.ctx(browser => 'UA-Bob', ip => '203.0.113.100'), 'tap05_bob', 'bob password 1') ->> 'token' AS bob1 \gset
SELECT matches(:'bob1'::text, '^[A-Za-z0-9_-]{43}$', 'the same login from another IP succeeds');

-- api.current_session: the account and the session.
SELECT api.current_session(pg_temp.ctx(:'amy1', 'UA-Amy-1')) AS amy1_session \gset
SELECT is(:'amy1_session'::jsonb -> 'account', :'amy_signup'::jsonb -> 'account', 'current_session returns the account');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'amy1_session'::jsonb -> 'session') k),
          ARRAY['created_at', 'expires_at', 'id', 'last_used'], 'the session JSON has exactly these keys');
SELECT is(ARRAY[:'amy1_session'::jsonb #>> '{session,created_at}', :'amy1_session'::jsonb #>> '{session,last_used}',
                :'amy1_session'::jsonb #>> '{session,expires_at}'],
          ARRAY[to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                :'amy1_json'::jsonb ->> 'expires_at'],
          'current_session returns the session''s created_at, last_used and expires_at, in RFC 3339 UTC');
SELECT :'amy1_session'::jsonb #>> '{session,id}' AS amy1_sid \gset
RESET ROLE;
SELECT is((SELECT id FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'amy1'))::text, :'amy1_sid',
          'current_session returns the session''s id');
SET LOCAL ROLE gateway;

-- api.current_session: committed 401 EXPIRED and BROWSER, which delete the session
-- (INVALID, without a token or with an unknown one, for every route: 17_session_checks.sql).
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-3', ip => '203.0.113.5'), 'tap05_amy', 'amy password 1') ->> 'token' AS amy3 \gset
RESET ROLE;
UPDATE auth.account_sessions SET expiry_time = now() - interval '1 second' WHERE token_digest = auth.token_digest(:'amy3');
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure(format('SELECT api.current_session(pg_temp.ctx(%L, %L))', :'amy3', 'UA-Amy-3')), '401 EXPIRED',
          'an expired session is a committed 401 EXPIRED');
SELECT is(api.current_session(pg_temp.ctx(:'amy3', 'UA-Amy-3')) ->> 'code', 'INVALID', 'then its token is INVALID');
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-4', ip => '203.0.113.5'), 'tap05_amy', 'amy password 1') ->> 'token' AS amy4 \gset
SELECT is(pg_temp.failure(format('SELECT api.current_session(pg_temp.ctx(%L, %L))', :'amy4', 'UA-Mallory')), '401 BROWSER',
          'a token from another browser is a committed 401 BROWSER');
RESET ROLE;
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest IN (auth.token_digest(:'amy3'), auth.token_digest(:'amy4'))),
          0::bigint, 'the EXPIRED and BROWSER sessions are gone');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :amy), 2::bigint, 'Amy''s two other sessions remain');
SET LOCAL ROLE gateway;

-- api.list_sessions: the caller's unexpired sessions, newest first, the current one marked; no secret.
RESET ROLE;
UPDATE auth.account_sessions SET created_at = now() - interval '1 day' WHERE token_digest = auth.token_digest(:'amy1');
SELECT auth.create_account_session('Tap05_Amy', 'UA-Amy-Old', '203.0.113.5') AS amy_old \gset
UPDATE auth.account_sessions SET expiry_time = now() - interval '1 hour' WHERE token_digest = auth.token_digest(:'amy_old');
SELECT id AS amy2_sid FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'amy2') \gset
SELECT encode(token_digest, 'hex') AS amy1_hex, encode(token_digest, 'base64') AS amy1_b64
  FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'amy1') \gset
SET LOCAL ROLE gateway;
SELECT api.list_sessions(pg_temp.ctx(:'amy1', 'UA-Amy-1')) AS amy_list \gset
SELECT is((SELECT array_agg((s ->> 'id')::bigint ORDER BY n) FROM jsonb_array_elements(:'amy_list'::jsonb -> 'sessions') WITH ORDINALITY x(s, n)),
          ARRAY[:amy2_sid, :amy1_sid]::bigint[], 'list_sessions lists the unexpired sessions of the caller only, newest first');
SELECT is((SELECT array_agg(s ->> 'current' ORDER BY n) FROM jsonb_array_elements(:'amy_list'::jsonb -> 'sessions') WITH ORDINALITY x(s, n)),
          ARRAY['false', 'true'], 'only the calling session is current');
SELECT is(:'amy_list'::jsonb #- '{sessions,0,id}' #- '{sessions,0,created_at}' #- '{sessions,0,last_used}' #- '{sessions,0,expires_at}'
            -> 'sessions' -> 0,
          '{"browser_info": "UA-Amy-2", "ip_address": "203.0.113.6", "current": false}'::jsonb,
          'each session shows its browser and its IP without netmask');
SELECT is((SELECT array_agg(DISTINCT k ORDER BY k) FROM jsonb_array_elements(:'amy_list'::jsonb -> 'sessions') s, jsonb_object_keys(s) k),
          ARRAY['browser_info', 'created_at', 'current', 'expires_at', 'id', 'ip_address', 'last_used'],
          'sessions have exactly the documented keys');
SELECT ok(strpos(:'amy_list', :'amy1') = 0 AND strpos(:'amy_list', :'amy2') = 0
          AND strpos(:'amy_list', :'amy1_hex') = 0 AND strpos(:'amy_list', :'amy1_b64') = 0
          AND strpos(:'amy_list', 'token') = 0 AND strpos(:'amy_list', 'digest') = 0,
          'list_sessions contains no token, no digest (hex or base64), no such key');

-- api.revoke_session: the caller's own session only; 404 for anyone else's.
RESET ROLE;
SELECT id AS bob1_sid FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'bob1') \gset
SET LOCAL ROLE gateway;
SELECT throws_ok(format('SELECT api.revoke_session(pg_temp.ctx(%L, %L), %s)', :'amy1', 'UA-Amy-1', :bob1_sid), 'PT404', 'no such session',
                 'revoking another account''s session raises PT404');
SELECT is(api.current_session(pg_temp.ctx(:'bob1', 'UA-Bob')) #>> '{account,username}',
          'Tap05_Bob', '... and that session still works');
SELECT throws_ok(format('SELECT api.revoke_session(pg_temp.ctx(%L, %L), %s)', :'amy1', 'UA-Amy-1', -1), 'PT404', 'no such session',
                 'revoking an unknown session raises PT404');
SELECT is(pg_temp.error_of(format('SELECT api.revoke_session(pg_temp.ctx(%L, %L), %s)', :'amy1', 'UA-Amy-1', -1)) #>> '{detail,code}',
          'NOT_FOUND', '... with code NOT_FOUND');
SELECT is(pg_temp.failure(format('SELECT api.revoke_session(pg_temp.ctx(%L, %L), %s)', :'amy1', 'UA-Amy-1', :amy2_sid)), '- -',
          'revoking one''s own other session succeeds with no body and no status');
SELECT is(api.current_session(pg_temp.ctx(:'amy2', 'UA-Amy-2')) ->> 'code', 'INVALID', 'the revoked session''s token is INVALID');
SELECT is(api.current_session(pg_temp.ctx(:'amy1', 'UA-Amy-1')) #>> '{account,username}',
          'Tap05_Amy', 'the calling session still works');

-- api.revoke_other_sessions: every session of the caller but the current one.
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-5', ip => '203.0.113.5'), 'tap05_amy', 'amy password 1') ->> 'token' AS amy5 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-6', ip => '203.0.113.6'), 'tap05_amy', 'amy password 1') ->> 'token' AS amy6 \gset
SELECT is(pg_temp.failure(format('SELECT api.revoke_other_sessions(pg_temp.ctx(%L, %L))', :'amy5', 'UA-Amy-5')), '- -',
          'revoke_other_sessions succeeds with no body and no status');
SELECT is((SELECT array_agg(s ->> 'browser_info') FROM json_array_elements(api.list_sessions(pg_temp.ctx(:'amy5', 'UA-Amy-5')) -> 'sessions') s),
          ARRAY['UA-Amy-5'], 'only the current session remains');
SELECT is(api.current_session(pg_temp.ctx(:'amy1', 'UA-Amy-1')) ->> 'code', 'INVALID', 'the other sessions'' tokens are INVALID');
SELECT is(api.current_session(pg_temp.ctx(:'bob1', 'UA-Bob')) #>> '{account,username}',
          'Tap05_Bob', 'other accounts'' sessions are untouched');

-- api.logout: deletes the presented session only.
SELECT is(pg_temp.failure(format('SELECT api.logout(pg_temp.ctx(%L, %L))', :'amy6', 'UA-Amy-6')), '401 INVALID',
          'a token revoked by revoke_other_sessions cannot log out: committed 401 INVALID');
SELECT is(pg_temp.failure(format('SELECT api.logout(pg_temp.ctx(%L, %L))', :'amy5', 'UA-Amy-5')), '- -',
          'logout succeeds with no body and no status');
SELECT is(pg_temp.failure(format('SELECT api.logout(pg_temp.ctx(%L, %L))', :'amy5', 'UA-Amy-5')), '401 INVALID',
          'logging out twice is a committed 401 INVALID');
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-7', ip => '203.0.113.5'), 'tap05_amy', 'amy password 1') ->> 'token' AS amy7 \gset
SELECT is(pg_temp.failure(format('SELECT api.logout(pg_temp.ctx(%L, %L))', :'amy7', 'UA-Mallory')), '401 BROWSER',
          'logout from another browser is a committed 401 BROWSER');
RESET ROLE;
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :amy), 0::bigint, 'Amy has no session left');
SET LOCAL ROLE gateway;

-- api.update_account: display_name and e-mail; absent fields are left alone.
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-8', ip => '203.0.113.5'), 'tap05_amy', 'amy password 1') ->> 'token' AS amy8 \gset
SELECT is(api.update_account(pg_temp.ctx(:'amy8', 'UA-Amy-8'), 'Amy Z.', NULL)::jsonb #- '{account,created_at}',
          jsonb_build_object('account', jsonb_build_object('id', :amy, 'username', 'Tap05_Amy', 'display_name', 'Amy Z.',
                                                           'email', 'Tap05.Amy@Example.com', 'role', 'user')),
          'update_account changes the display_name and keeps the e-mail');
SELECT is((api.update_account(pg_temp.ctx(:'amy8', 'UA-Amy-8'), NULL, 'Tap05.Amy.New@Example.com')::jsonb -> 'account') - 'created_at' - 'id',
          '{"username": "Tap05_Amy", "display_name": "Amy Z.", "email": "Tap05.Amy.New@Example.com", "role": "user"}'::jsonb,
          'update_account changes the e-mail and keeps the display_name');
SELECT is(api.update_account(pg_temp.ctx(:'amy8', 'UA-Amy-8'), '', NULL) #>> '{account,display_name}', 'Tap05_Amy',
          'an empty display_name falls back to the username');
SELECT is(api.update_account(pg_temp.ctx(:'amy8', 'UA-Amy-8'), NULL, 'TAP05.AMY.NEW@example.com') #>> '{account,email}',
          'TAP05.AMY.NEW@example.com', 'changing one''s e-mail to another case of itself is allowed');
SELECT is(api.availability(pg_temp.ctx(), NULL, 'tap05.amy@example.com')::jsonb, '{"status": "OK"}', 'the old e-mail is free again');
SELECT throws_ok(format('SELECT api.update_account(pg_temp.ctx(%L, %L), NULL, %L)', :'amy8', 'UA-Amy-8', 'TAP05.BOB@example.com'),
                 'PT409', 'that e-mail address is already registered', 'taking another account''s e-mail raises PT409');
SELECT is(pg_temp.error_of(format('SELECT api.update_account(pg_temp.ctx(%L, %L), NULL, %L)', :'amy8', 'UA-Amy-8', 'TAP05.BOB@example.com'))
            #>> '{detail,code}', 'EMAIL_TAKEN', '... with code EMAIL_TAKEN');
SELECT throws_ok(format('SELECT api.update_account(pg_temp.ctx(%L, %L), NULL, %L)', :'amy8', 'UA-Amy-8', 'no-at-sign'),
                 'PT422', 'some fields are invalid', 'a malformed e-mail raises PT422');
SELECT is(pg_temp.error_of(format('SELECT api.update_account(pg_temp.ctx(%L, %L), %L, %L)', :'amy8', 'UA-Amy-8', repeat('d', 65), 'no-at-sign'))
            #> '{detail,details}',
          '{"email": "must be an e-mail address with one \"@\"", "display_name": "must be at most 64 characters"}'::jsonb,
          'a malformed e-mail and a too long display_name are both reported');
SELECT is((api.current_session(pg_temp.ctx(:'amy8', 'UA-Amy-8'))::jsonb -> 'account') - 'created_at' - 'id',
          '{"username": "Tap05_Amy", "display_name": "Tap05_Amy", "email": "TAP05.AMY.NEW@example.com", "role": "user"}'::jsonb,
          'the failed updates changed nothing');

-- api.change_password: a wrong current password is a committed 401 that counts as a failure.
SELECT api.login(pg_temp.ctx(browser => 'UA-Dan-1', ip => '203.0.113.20'), 'tap05_dan', 'dan password 1') ->> 'token' AS dan1 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Dan-2', ip => '203.0.113.21'), 'tap05_dan', 'dan password 1') ->> 'token' AS dan2 \gset
SELECT is(pg_temp.failure(format('SELECT api.change_password(pg_temp.ctx(%L, %L, %L), %L, %L)', :'dan1', 'UA-Dan-1', '203.0.113.20',
                                 'not dan password', 'dan password 2')),
          '401 INVALID_CREDENTIALS', 'a wrong current password is a committed 401 INVALID_CREDENTIALS');
RESET ROLE;
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'password_account:account:' || :'dan'), 1, '... counted against the account');
SELECT ok(auth.password_matches('dan password 1', (SELECT password_hash FROM auth.accounts WHERE id = :dan)),
          '... and the password is unchanged');
SET LOCAL ROLE gateway;

-- api.change_password: 422 for missing or malformed fields.
SELECT throws_ok(format('SELECT api.change_password(pg_temp.ctx(%L, %L), %L, %L)', :'dan1', 'UA-Dan-1', 'dan password 1', 'short'),
                 'PT422', 'some fields are invalid', 'a too short new password raises PT422');
SELECT is(pg_temp.error_of(format('SELECT api.change_password(pg_temp.ctx(%L, %L), %L, %L)', :'dan1', 'UA-Dan-1', 'dan password 1', repeat('é', 37)))
            #> '{detail,details}',
          '{"new_password": "must be at most 72 bytes"}'::jsonb, 'a 74-byte new password is reported as new_password');
SELECT is(pg_temp.error_of(format('SELECT api.change_password(pg_temp.ctx(%L, %L), NULL, %L)', :'dan1', 'UA-Dan-1', 'dan password 2')) - 'hint',
          '{"sqlstate": "PT422", "message": "some fields are invalid", "detail": {"code": "VALIDATION", "details": {"current_password": "required"}}}'::jsonb,
          'a missing current password raises PT422 current_password required');
SELECT is(pg_temp.error_of(format('SELECT api.change_password(pg_temp.ctx(%L, %L), %L, NULL)', :'dan1', 'UA-Dan-1', 'dan password 1')) - 'hint',
          '{"sqlstate": "PT422", "message": "some fields are invalid", "detail": {"code": "VALIDATION", "details": {"new_password": "required"}}}'::jsonb,
          'a missing new password raises PT422 new_password required');

-- api.change_password: success deletes the account's other sessions, keeps the current one.
SELECT is(pg_temp.failure(format('SELECT api.change_password(pg_temp.ctx(%L, %L, %L), %L, %L)', :'dan1', 'UA-Dan-1', '203.0.113.20',
                                 'dan password 1', 'dan password 2')),
          '- -', 'change_password succeeds with no body and no status');
SELECT is(api.current_session(pg_temp.ctx(:'dan1', 'UA-Dan-1')) #>> '{account,username}',
          'Tap05_Dan', 'the current session still works');
SELECT is(api.current_session(pg_temp.ctx(:'dan2', 'UA-Dan-2')) ->> 'code', 'INVALID', 'the other session''s token is INVALID');
SELECT is(api.login(pg_temp.ctx(browser => 'UA-Dan-3', ip => '203.0.113.22'), 'tap05_dan', 'dan password 1') ->> 'code',
          'INVALID_CREDENTIALS', 'the old password no longer logs in');
SELECT matches(api.login(pg_temp.ctx(browser => 'UA-Dan-3', ip => '203.0.113.22'), 'tap05_dan', 'dan password 2') ->> 'token',
          '^[A-Za-z0-9_-]{43}$',
               'the new password logs in');

-- api.change_password: 10 attempts an hour (2 so far), then PT429.
SELECT set_config('tap05.dan1', :'dan1', true) AS ignored \gset
DO $$ BEGIN FOR i IN 1..8 LOOP
  PERFORM api.change_password(pg_temp.ctx(current_setting('tap05.dan1'), 'UA-Dan-1', '203.0.113.20'), 'wrong guess', 'dan password 3');
END LOOP; END $$;
SELECT throws_ok(format('SELECT api.change_password(pg_temp.ctx(%L, %L, %L), %L, %L)', :'dan1', 'UA-Dan-1', '203.0.113.20',
                        'dan password 2', 'dan password 3'),
                 'PT429', 'too many attempts; try again later', 'after 10 attempts in an hour change_password raises PT429');

-- api.delete_account: a wrong password is a committed 401; the account and its sessions go.
SELECT api.login(pg_temp.ctx(browser => 'UA-Fay-1', ip => '203.0.113.30'), 'tap05_fay', 'fay password 1') ->> 'token' AS fay1 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Fay-2', ip => '203.0.113.31'), 'tap05_fay', 'fay password 1') ->> 'token' AS fay2 \gset
SELECT throws_ok(format('SELECT api.delete_account(pg_temp.ctx(%L, %L), NULL)', :'fay1', 'UA-Fay-1'), 'PT422', 'password is required',
                 'delete_account without a password raises PT422');
SELECT is(pg_temp.failure(format('SELECT api.delete_account(pg_temp.ctx(%L, %L, %L), %L)', :'fay1', 'UA-Fay-1', '203.0.113.30', 'not fay password')),
          '401 INVALID_CREDENTIALS', 'a wrong password is a committed 401 INVALID_CREDENTIALS');
SELECT is(api.current_session(pg_temp.ctx(:'fay1', 'UA-Fay-1')) #>> '{account,username}',
          'Tap05_Fay', '... and the account is still there');
SELECT is(pg_temp.failure(format('SELECT api.delete_account(pg_temp.ctx(%L, %L, %L), %L)', :'fay1', 'UA-Fay-1', '203.0.113.30', 'fay password 1')),
          '- -', 'delete_account succeeds with no body and no status');
SELECT is(api.current_session(pg_temp.ctx(:'fay2', 'UA-Fay-2')) ->> 'code', 'INVALID', 'the account''s other session is INVALID');
SELECT is(api.availability(pg_temp.ctx(), 'tap05_fay', 'tap05.fay@example.com')::jsonb,
          '{"status": "OK"}', 'username and e-mail are free again');
RESET ROLE;
SELECT is((SELECT count(*) FROM auth.accounts WHERE id = :fay), 0::bigint, 'the account row is gone');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :fay), 0::bigint, 'its sessions went with it (cascade)');
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'password_account:account:' || :'fay'), 2,
          'its attempts stay counted until maintenance deletes the stale counter');
SET LOCAL ROLE gateway;

-- api.readiness: the applied migration version, the installed code package's
-- digest, and whether the login may assert identities (13_sessions_proxy_identity.sql).
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
