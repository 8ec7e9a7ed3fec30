-- Sessions (the table: sql/migrations/002_auth.sql; the functions:
-- sql/code/auth.sql): auth.create_account_session, auth.check_session (which
-- takes the request's context) and the seed's auth.check_session_token; then
-- the session routes (sql/code/api/sessions.sql): login and its throttling,
-- the current session, the list, revocations, logout. (The inactivity
-- timeout and disabled accounts: 10_sessions_posture.sql; the proxy's
-- identity: 13_sessions_proxy_identity.sql; INVALID on every route:
-- 17_session_checks.sql.)
BEGIN;
SELECT plan(114);

-- Two fixture accounts (auth.dummy_password_hash() spares a bcrypt computation).
INSERT INTO auth.accounts (username, email, password_hash) VALUES
  ('Tap03_Ann', 'tap03.ann@example.com', auth.dummy_password_hash()),
  ('Tap03_Ben', 'tap03.ben@example.com', auth.dummy_password_hash());
SELECT id AS ann FROM auth.accounts WHERE username = 'Tap03_Ann' \gset
SELECT id AS ben FROM auth.accounts WHERE username = 'Tap03_Ben' \gset

-- create_account_session returns 256 random bits as 43 base64url characters.
SELECT auth.create_account_session('Tap03_Ann', 'UA-Firefox', '198.51.100.1') AS t1 \gset
SELECT matches(:'t1'::text, '^[A-Za-z0-9_-]{43}$', 'the token is 43 base64url characters');
SELECT is(octet_length(decode(translate(:'t1', '-_', '+/') || '=', 'base64')), 32, 'the token decodes to 32 bytes');
SELECT auth.create_account_session('Tap03_Ann', 'UA-Chrome', '198.51.100.1') AS t_chrome \gset
SELECT isnt(:'t1'::text, :'t_chrome'::text, 'two sessions get different tokens');
SELECT auth.create_account_session('TAP03_BEN', 'UA-Firefox', '198.51.100.1') AS t_ben \gset
SELECT is((SELECT account_id FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_ben')), :ben::bigint,
          'the username is matched ignoring case');
SELECT throws_ok($$SELECT auth.create_account_session('tap03_nobody', 'UA-Firefox', '198.51.100.1')$$,
                 'PT404', 'account tap03_nobody does not exist', 'an unknown account raises PT404');

-- Only the token's SHA-256 digest is stored, with the device and the times.
SELECT is((SELECT token_digest FROM auth.account_sessions WHERE account_id = :ann AND browser_info = 'UA-Firefox'),
          sha256(convert_to(:'t1', 'UTF8')), 'the stored digest is the SHA-256 of the token');
SELECT is((SELECT count(*) FROM auth.account_sessions s
            WHERE strpos(s::text, :'t1') > 0 OR strpos(encode(s.token_digest, 'escape'), :'t1') > 0),
          0::bigint, 'the raw token appears nowhere in the session rows');
SELECT results_eq(
  format($$SELECT account_id, browser_info, ip_address, created_at, expiry_time, last_used
             FROM auth.account_sessions WHERE token_digest = auth.token_digest(%L)$$, :'t1'),
  format($$VALUES (%s::bigint, 'UA-Firefox', '198.51.100.1'::inet, now(), now() + interval '30 days', now())$$, :ann),
  'the session records account, browser, IP; expires 30 days after creation');
SELECT auth.create_account_session('Tap03_Ann', NULL, '198.51.100.9') AS t_nobrowser \gset
SELECT is((SELECT browser_info FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_nobrowser')), '',
          'a NULL browser is stored as empty');

-- One session per device: a new login from the same account, browser and IP replaces the old one.
SELECT auth.create_account_session('Tap03_Ann', 'UA-Firefox', '198.51.100.2') AS t_other_ip \gset
SELECT auth.create_account_session('Tap03_Ann', 'UA-Firefox', NULL) AS t_noip \gset
SELECT auth.create_account_session('Tap03_Ann', 'UA-Firefox', '198.51.100.1') AS t2 \gset
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t1')), 0::bigint,
          'the previous session of that device is gone');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t1', 'UA-Firefox'))), 'INVALID', 'its token no longer works');
SELECT is((SELECT count(*) FROM auth.account_sessions
            WHERE account_id = :ann AND browser_info = 'UA-Firefox' AND ip_address = '198.51.100.1'), 1::bigint,
          'that device has exactly one session');
SELECT is((SELECT count(*) FROM auth.account_sessions
            WHERE token_digest IN (auth.token_digest(:'t_chrome'), auth.token_digest(:'t_other_ip'),
                                   auth.token_digest(:'t_noip'), auth.token_digest(:'t_nobrowser'))),
          4::bigint, 'sessions of the same account on other browsers or IPs are kept');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_ben')), 1::bigint,
          'another account''s session on the same browser and IP is kept');
SELECT auth.create_account_session('Tap03_Ann', 'UA-Firefox', NULL) AS t_noip2 \gset
SELECT is((SELECT count(*) FROM auth.account_sessions
            WHERE account_id = :ann AND browser_info = 'UA-Firefox' AND ip_address IS NULL), 1::bigint,
          'without an IP, the device is account and browser: still one session');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_noip')), 0::bigint,
          'and it is the new one');

-- check_session: OK with the session's columns.
SELECT results_eq(
  format($$SELECT message, account_id, created_at, last_used, expiry_time FROM auth.check_session(request.context(%L, 'UA-Firefox'))$$, :'t2'),
  format($$VALUES ('OK', %s::bigint, now(), now(), now() + interval '30 days')$$, :ann),
  'a valid token from its browser is OK, with account and times');
SELECT is((SELECT session_id FROM auth.check_session(request.context(:'t2', 'UA-Firefox'))),
          (SELECT id FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t2')), 'OK gives the session id');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_nobrowser', NULL))), 'OK',
          'a session made without a browser is OK when presented without one');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_nobrowser', ''))), 'OK', '... or with an empty one');

-- check_session: INVALID for an unknown token, with nothing else.
SELECT results_eq($$SELECT * FROM auth.check_session(request.context('tap03-not-a-token-tap03-not-a-token-tap03-no', 'UA-Firefox'))$$,
                  $$VALUES ('INVALID', NULL::bigint, NULL::bigint, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz)$$,
                  'an unknown token is INVALID, every other column NULL');
SELECT is((SELECT message FROM auth.check_session(request.context(NULL, 'UA-Firefox'))), 'INVALID', 'a NULL token is INVALID');
SELECT is((SELECT message FROM auth.check_session(request.context('', 'UA-Firefox'))), 'INVALID', 'an empty token is INVALID');
SELECT is((SELECT message FROM auth.check_session(request.context(upper(:'t2'), 'UA-Firefox'))), 'INVALID',
          'tokens are case-sensitive');

-- check_session: BROWSER for another browser, and the session is deleted.
SELECT auth.create_account_session('Tap03_Ann', 'UA-Safari', '198.51.100.3') AS t_safari \gset
SELECT results_eq(format($$SELECT * FROM auth.check_session(request.context(%L, 'UA-Firefox'))$$, :'t_safari'),
                  $$VALUES ('BROWSER', NULL::bigint, NULL::bigint, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz)$$,
                  'a token presented by another browser answers BROWSER and nothing else');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_safari')), 0::bigint,
          'the BROWSER session is deleted');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_safari', 'UA-Safari'))), 'INVALID',
          'afterwards even the right browser gets INVALID');
SELECT auth.create_account_session('Tap03_Ann', 'UA-Edge', '198.51.100.3') AS t_edge \gset
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_edge', NULL))), 'BROWSER',
          'a token presented without a browser answers BROWSER');

-- check_session: EXPIRED once expiry_time has passed (or is now), and the session is deleted.
SELECT auth.create_account_session('Tap03_Ann', 'UA-Old', '198.51.100.4') AS t_old \gset
UPDATE auth.account_sessions SET created_at = now() - interval '31 days', expiry_time = now() - interval '1 day',
                                 last_used = now() - interval '2 days'
 WHERE token_digest = auth.token_digest(:'t_old');
SELECT results_eq(format($$SELECT * FROM auth.check_session(request.context(%L, 'UA-Old'))$$, :'t_old'),
                  $$VALUES ('EXPIRED', NULL::bigint, NULL::bigint, NULL::timestamptz, NULL::timestamptz, NULL::timestamptz)$$,
                  'an expired session answers EXPIRED and nothing else');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_old')), 0::bigint,
          'the EXPIRED session is deleted');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_old', 'UA-Old'))), 'INVALID', 'afterwards its token is INVALID');
SELECT auth.create_account_session('Tap03_Ann', 'UA-Edge', '198.51.100.5') AS t_edge_now \gset
UPDATE auth.account_sessions SET expiry_time = now() WHERE token_digest = auth.token_digest(:'t_edge_now');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_edge_now', 'UA-Edge'))), 'EXPIRED',
          'a session expiring right now is EXPIRED');
SELECT auth.create_account_session('Tap03_Ann', 'UA-Edge', '198.51.100.6') AS t_edge_soon \gset
UPDATE auth.account_sessions SET expiry_time = now() + interval '1 second' WHERE token_digest = auth.token_digest(:'t_edge_soon');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_edge_soon', 'UA-Edge'))), 'OK',
          'a session expiring in a second is still OK');
SELECT auth.create_account_session('Tap03_Ann', 'UA-Opera', '198.51.100.7') AS t_old_other \gset
UPDATE auth.account_sessions SET expiry_time = now() - interval '1 minute' WHERE token_digest = auth.token_digest(:'t_old_other');
SELECT is((SELECT message FROM auth.check_session(request.context(:'t_old_other', 'UA-Firefox'))), 'EXPIRED',
          'an expired session from another browser answers EXPIRED');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_old_other')), 0::bigint,
          '... and is deleted too');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t2')), 1::bigint,
          'failed checks of other tokens left this account''s valid session alone');

-- check_session: OK refreshes last_used only when it is more than a minute old.
UPDATE auth.account_sessions SET last_used = now() - interval '30 seconds' WHERE token_digest = auth.token_digest(:'t2');
SELECT ctid::text AS ctid_fresh FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t2') \gset
SELECT is((SELECT last_used FROM auth.check_session(request.context(:'t2', 'UA-Firefox'))), now() - interval '30 seconds',
          'OK returns a 30-seconds-old last_used as is');
SELECT is((SELECT last_used FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t2')),
          now() - interval '30 seconds', 'a 30-seconds-old last_used is not refreshed');
SELECT is((SELECT ctid::text FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t2')), :'ctid_fresh'::text,
          'the row was not rewritten at all');
UPDATE auth.account_sessions SET last_used = now() - interval '1 minute' WHERE token_digest = auth.token_digest(:'t2');
SELECT is((SELECT last_used FROM auth.check_session(request.context(:'t2', 'UA-Firefox'))), now() - interval '1 minute',
          'a last_used exactly one minute old is not refreshed either');
UPDATE auth.account_sessions SET last_used = now() - interval '2 minutes' WHERE token_digest = auth.token_digest(:'t2');
SELECT is((SELECT last_used FROM auth.check_session(request.context(:'t2', 'UA-Firefox'))), now(),
          'OK returns the refreshed last_used when it was 2 minutes old');
SELECT is((SELECT last_used FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t2')), now(),
          'a 2-minutes-old last_used is refreshed in the table');
SELECT is((SELECT expiry_time FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t2')),
          now() + interval '30 days', 'refreshing does not extend the absolute expiry');

-- check_session_token, the seed's signature: (message, account_id, username, email, created_at).
UPDATE auth.accounts SET created_at = '2020-02-02 02:02:02+00' WHERE id = :ann;
SELECT results_eq(format($$SELECT * FROM auth.check_session_token(%L, 'UA-Firefox')$$, :'t2'),
                  format($$VALUES ('OK', %s::bigint, 'Tap03_Ann', 'tap03.ann@example.com', '2020-02-02 02:02:02+00'::timestamptz)$$, :ann),
                  'check_session_token answers OK with the account''s id, username, e-mail and creation time');
SELECT results_eq($$SELECT * FROM auth.check_session_token('tap03-unknown', 'UA-Firefox')$$,
                  $$VALUES ('INVALID', NULL::bigint, NULL::text, NULL::text, NULL::timestamptz)$$,
                  'check_session_token answers one INVALID row with NULL columns for an unknown token');
SELECT auth.create_account_session('Tap03_Ben', 'UA-Lynx', '198.51.100.8') AS t_ben_lynx \gset
SELECT results_eq(format($$SELECT * FROM auth.check_session_token(%L, 'UA-Mosaic')$$, :'t_ben_lynx'),
                  $$VALUES ('BROWSER', NULL::bigint, NULL::text, NULL::text, NULL::timestamptz)$$,
                  'check_session_token answers BROWSER with NULL columns');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_ben_lynx')), 0::bigint,
          'check_session_token deleted the BROWSER session');
SELECT auth.create_account_session('Tap03_Ben', 'UA-Lynx', '198.51.100.9') AS t_ben_old \gset
UPDATE auth.account_sessions SET expiry_time = now() - interval '1 second' WHERE token_digest = auth.token_digest(:'t_ben_old');
SELECT results_eq(format($$SELECT * FROM auth.check_session_token(%L, 'UA-Lynx')$$, :'t_ben_old'),
                  $$VALUES ('EXPIRED', NULL::bigint, NULL::text, NULL::text, NULL::timestamptz)$$,
                  'check_session_token answers EXPIRED with NULL columns');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE token_digest = auth.token_digest(:'t_ben_old')), 0::bigint,
          'check_session_token deleted the EXPIRED session');
SELECT is((SELECT message FROM auth.check_session_token(:'t_ben', 'UA-Firefox')), 'OK',
          'Ben''s other session is untouched');

-- The seed's functions are not the gateway's: it could mint or probe sessions without a password.
SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT auth.create_account_session('Tap03_Ann', 'x', NULL)$$, '42501', NULL,
                 'the gateway cannot call create_account_session');
SELECT throws_ok(format('SELECT * FROM auth.check_session_token(%L, %L)', :'t2', 'UA-Firefox'), '42501', NULL,
                 'the gateway cannot call check_session_token');
SELECT throws_ok(format('SELECT * FROM auth.check_session(ROW(%L, %L, NULL, NULL, NULL, NULL))', :'t2', 'UA-Firefox'), '42501', NULL,
                 'the gateway cannot call check_session, even with an anonymous ROW context');
RESET ROLE;

-- Deleting an account deletes its sessions.
DELETE FROM auth.accounts WHERE id = :ann;
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :ann), 0::bigint,
          'deleting an account cascades to its sessions');

-- ============================================================================
-- The session routes (sql/code/api/sessions.sql), called as the gateway
-- calls them (as the account routes in 02_accounts.sql are). Three accounts
-- signed up through api.signup.
-- ============================================================================
\ir helpers.psql
SET LOCAL ROLE gateway;
SELECT api.signup(pg_temp.ctx(), 'Tap03_Amy', 'Tap03.Amy@Example.com', 'amy password 1', NULL) AS amy_signup \gset
SELECT (:'amy_signup'::jsonb #>> '{account,id}') AS amy \gset
SELECT api.signup(pg_temp.ctx(), 'Tap03_Bob', 'tap03.bob@example.com', 'bob password 1', 'Bob B.') AS ignored \gset
SELECT api.signup(pg_temp.ctx(), 'Tap03_Cat', 'tap03.cat@example.com', 'cat password 1', '') AS ignored \gset

-- api.login by username (any case): a 43-character token, its expiry, the account; no $status.
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-1', ip => '203.0.113.5'), 'tap03_amy', 'amy password 1') AS amy1_json \gset
SELECT :'amy1_json'::jsonb ->> 'token' AS amy1 \gset
SELECT is(:'amy1_json'::jsonb ->> '$status', NULL, 'a successful login''s body has no $status');
SELECT matches(:'amy1'::text, '^[A-Za-z0-9_-]{43}$', 'login returns a 43-character base64url token');
SELECT is((:'amy1_json'::jsonb ->> 'expires_at')::timestamptz, now() + interval '30 days', 'the session expires in 30 days');
SELECT matches(:'amy1_json'::jsonb ->> 'expires_at', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$', 'expires_at is RFC 3339 in UTC');
SELECT is(:'amy1_json'::jsonb -> 'account', :'amy_signup'::jsonb -> 'account', 'login returns the account JSON');

-- api.login: a wrong password and an unknown login give the same committed 401.
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), 'Tap03_Amy', 'amy password 2')$$),
          '401 INVALID_CREDENTIALS', 'a wrong password is a committed 401 INVALID_CREDENTIALS');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), 'tap03_nobody', 'amy password 1')$$),
          '401 INVALID_CREDENTIALS', 'an unknown login is a committed 401 INVALID_CREDENTIALS');
SELECT is(api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), 'Tap03_Amy', 'amy password 2')::jsonb,
          api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), 'tap03.nobody@example.com', 'amy password 2')::jsonb,
          'the bodies of both are identical');
SELECT throws_ok($$SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), NULL, 'amy password 1')$$, 'PT422',
                 'login and password are required', 'login without a login raises PT422');
SELECT is(pg_temp.error_of($$SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-9', ip => '203.0.113.5'), NULL, NULL)$$) #> '{detail,details}',
          '{"login": "required", "password": "required"}'::jsonb, 'both missing fields are reported');
RESET ROLE;
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'login_failures:account:' || :'amy' || ' ip:203.0.113.5'), 2,
          'the wrong passwords were counted against the account and the address');
SELECT is((SELECT failures FROM auth.login_failures
            WHERE key = 'login_failures:login:' || encode(sha256(convert_to('tap03_nobody', 'UTF8')), 'hex') || ' ip:203.0.113.5'), 1,
          'the unknown login was counted against its digest and the address');
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'login_failures_ip:ip:203.0.113.5'), 4,
          'every failure was counted against the IP');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE browser_info = 'UA-Amy-9'), 0::bigint,
          'failed logins create no session');
SET LOCAL ROLE gateway;

-- api.login by e-mail (any case) succeeds, clears the account's failures, tracks logins.
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-2', ip => '203.0.113.6'), 'TAP03.amy@EXAMPLE.com', 'amy password 1') ->> 'token' AS amy2 \gset
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
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap03_cat', 'wrong password')$$),
          '401 INVALID_CREDENTIALS', 'Cat''s failed login 1');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap03_cat', 'wrong password')$$),
          '401 INVALID_CREDENTIALS', 'Cat''s failed login 2');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap03.cat@example.com', 'wrong password')$$),
          '401 INVALID_CREDENTIALS', 'Cat''s failed login 3, by e-mail');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'TAP03_CAT', 'wrong password')$$),
          '401 INVALID_CREDENTIALS', 'Cat''s failed login 4');
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap03_cat', 'wrong password')$$),
          '401 INVALID_CREDENTIALS', 'Cat''s failed login 5');
SELECT throws_ok($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap03_cat', 'cat password 1')$$, 'PT429',
                 'too many attempts; try again later', 'after 5 failures from an address even the right password raises PT429 there');
SELECT is(pg_temp.error_of($$SELECT api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.7'), 'tap03_cat', 'cat password 1')$$) -> 'detail',
          '{"code": "RATE_LIMITED", "details": {"retry_after": 900}}'::jsonb, '... with code RATE_LIMITED and retry_after');
SELECT matches(api.login(pg_temp.ctx(browser => 'UA-Cat', ip => '203.0.113.9'), 'tap03_cat', 'cat password 1') ->> 'token',
               '^[A-Za-z0-9_-]{43}$', 'from another address Cat logs in: nobody can lock her out from everywhere');
DO $$ BEGIN FOR i IN 1..5 LOOP PERFORM api.login(pg_temp.ctx(browser => 'UA-Ghost'), 'Tap03_Ghost', 'whatever'); END LOOP; END $$;
SELECT throws_ok($$SELECT api.login(pg_temp.ctx(browser => 'UA-Ghost'), 'tap03_ghost', 'whatever')$$, 'PT429', NULL,
                 'an unknown login is throttled like a known one');
RESET ROLE;
INSERT INTO auth.login_failures (key, failures, window_start) VALUES ('login_failures_ip:ip:203.0.113.99', 20, now());
SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT api.login(pg_temp.ctx(browser => 'UA-Bob', ip => '203.0.113.99'), 'tap03_bob', 'bob password 1')$$, 'PT429', NULL,
                 'an IP with 20 failures is blocked, even for a right password');
SELECT api.login(pg_temp.ctx(browser => 'UA-Bob', ip => '203.0.113.100'), 'tap03_bob', 'bob password 1') ->> 'token' AS bob1 \gset
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
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-3', ip => '203.0.113.5'), 'tap03_amy', 'amy password 1') ->> 'token' AS amy3 \gset
RESET ROLE;
UPDATE auth.account_sessions SET expiry_time = now() - interval '1 second' WHERE token_digest = auth.token_digest(:'amy3');
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure(format('SELECT api.current_session(pg_temp.ctx(%L, %L))', :'amy3', 'UA-Amy-3')), '401 EXPIRED',
          'an expired session is a committed 401 EXPIRED');
SELECT is(api.current_session(pg_temp.ctx(:'amy3', 'UA-Amy-3')) ->> 'code', 'INVALID', 'then its token is INVALID');
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-4', ip => '203.0.113.5'), 'tap03_amy', 'amy password 1') ->> 'token' AS amy4 \gset
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
SELECT auth.create_account_session('Tap03_Amy', 'UA-Amy-Old', '203.0.113.5') AS amy_old \gset
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
          'Tap03_Bob', '... and that session still works');
SELECT throws_ok(format('SELECT api.revoke_session(pg_temp.ctx(%L, %L), %s)', :'amy1', 'UA-Amy-1', -1), 'PT404', 'no such session',
                 'revoking an unknown session raises PT404');
SELECT is(pg_temp.error_of(format('SELECT api.revoke_session(pg_temp.ctx(%L, %L), %s)', :'amy1', 'UA-Amy-1', -1)) #>> '{detail,code}',
          'NOT_FOUND', '... with code NOT_FOUND');
SELECT is(pg_temp.failure(format('SELECT api.revoke_session(pg_temp.ctx(%L, %L), %s)', :'amy1', 'UA-Amy-1', :amy2_sid)), '- -',
          'revoking one''s own other session succeeds with no body and no status');
SELECT is(api.current_session(pg_temp.ctx(:'amy2', 'UA-Amy-2')) ->> 'code', 'INVALID', 'the revoked session''s token is INVALID');
SELECT is(api.current_session(pg_temp.ctx(:'amy1', 'UA-Amy-1')) #>> '{account,username}',
          'Tap03_Amy', 'the calling session still works');

-- api.revoke_other_sessions: every session of the caller but the current one.
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-5', ip => '203.0.113.5'), 'tap03_amy', 'amy password 1') ->> 'token' AS amy5 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-6', ip => '203.0.113.6'), 'tap03_amy', 'amy password 1') ->> 'token' AS amy6 \gset
SELECT is(pg_temp.failure(format('SELECT api.revoke_other_sessions(pg_temp.ctx(%L, %L))', :'amy5', 'UA-Amy-5')), '- -',
          'revoke_other_sessions succeeds with no body and no status');
SELECT is((SELECT array_agg(s ->> 'browser_info') FROM json_array_elements(api.list_sessions(pg_temp.ctx(:'amy5', 'UA-Amy-5')) -> 'sessions') s),
          ARRAY['UA-Amy-5'], 'only the current session remains');
SELECT is(api.current_session(pg_temp.ctx(:'amy1', 'UA-Amy-1')) ->> 'code', 'INVALID', 'the other sessions'' tokens are INVALID');
SELECT is(api.current_session(pg_temp.ctx(:'bob1', 'UA-Bob')) #>> '{account,username}',
          'Tap03_Bob', 'other accounts'' sessions are untouched');

-- api.logout: deletes the presented session only.
SELECT is(pg_temp.failure(format('SELECT api.logout(pg_temp.ctx(%L, %L))', :'amy6', 'UA-Amy-6')), '401 INVALID',
          'a token revoked by revoke_other_sessions cannot log out: committed 401 INVALID');
SELECT is(pg_temp.failure(format('SELECT api.logout(pg_temp.ctx(%L, %L))', :'amy5', 'UA-Amy-5')), '- -',
          'logout succeeds with no body and no status');
SELECT is(pg_temp.failure(format('SELECT api.logout(pg_temp.ctx(%L, %L))', :'amy5', 'UA-Amy-5')), '401 INVALID',
          'logging out twice is a committed 401 INVALID');
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-7', ip => '203.0.113.5'), 'tap03_amy', 'amy password 1') ->> 'token' AS amy7 \gset
SELECT is(pg_temp.failure(format('SELECT api.logout(pg_temp.ctx(%L, %L))', :'amy7', 'UA-Mallory')), '401 BROWSER',
          'logout from another browser is a committed 401 BROWSER');
RESET ROLE;
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :amy), 0::bigint, 'Amy has no session left');
SET LOCAL ROLE gateway;
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
