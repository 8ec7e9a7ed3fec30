-- Sessions (the table: sql/migrations/002_auth.sql; the functions:
-- sql/code/auth.sql): auth.create_account_session, auth.check_session (which
-- takes the request's context) and the seed's auth.check_session_token.
BEGIN;
SELECT plan(54);

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
SELECT throws_ok(format('SELECT * FROM auth.check_session(ROW(%L, %L, NULL, NULL, NULL))', :'t2', 'UA-Firefox'), '42501', NULL,
                 'the gateway cannot call check_session, even with an anonymous ROW context');
RESET ROLE;

-- Deleting an account deletes its sessions.
DELETE FROM auth.accounts WHERE id = :ann;
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :ann), 0::bigint,
          'deleting an account cascades to its sessions');

SELECT * FROM finish();
ROLLBACK;
