-- Login throttling (the table: sql/migrations/002_auth.sql; the functions:
-- sql/code/auth.sql): auth.throttle_keys, auth.throttle_record_failure,
-- auth.throttle_retry_after, auth.verify_password. Limits: 5 failures per
-- account (or unknown login) key, 20 per IP key, in a 15-minute window.
BEGIN;
SELECT plan(47);

\ir helpers.psql
-- (Statements run for their effect end in \gset, which swallows their output.)

-- throttle_keys: the account key (or a digest of the unknown login) and the IP key.
SELECT is(auth.throttle_keys(-4001, 'tap04_whoever', '192.0.2.10'), ARRAY['account:-4001', 'ip:192.0.2.10'],
          'a known account gives account:<id> and ip:<address>');
SELECT is(auth.throttle_keys(-4001, 'tap04_a', '192.0.2.10'), auth.throttle_keys(-4001, 'tap04_b', '192.0.2.10'),
          'for a known account the login text does not matter');
SELECT is((auth.throttle_keys(NULL, 'Tap04_Nobody', '192.0.2.10'))[1],
          'login:' || encode(sha256(convert_to('tap04_nobody', 'UTF8')), 'hex'),
          'an unknown login gives login:<sha256 hex of the lowercased login>');
SELECT is(auth.throttle_keys(NULL, 'TAP04_NOBODY', '192.0.2.10'), auth.throttle_keys(NULL, 'tap04_nobody', '192.0.2.10'),
          'the login key ignores case');
SELECT isnt((auth.throttle_keys(NULL, 'tap04_nobody', NULL))[1], (auth.throttle_keys(NULL, 'tap04_somebody', NULL))[1],
            'different unknown logins get different keys');
SELECT is(strpos(array_to_string(auth.throttle_keys(NULL, 'tap04 typed-password-here', NULL), ','), 'typed-password'), 0,
          'the login text itself is not kept in the key');
SELECT is(auth.throttle_keys(-4001, NULL, NULL), ARRAY['account:-4001', NULL],
          'without an IP the IP key is NULL');
SELECT is((auth.throttle_keys(-4001, NULL, '2001:db8::7/128'))[2], 'ip:2001:db8::7', 'an IPv6 key has no netmask');
SELECT is((auth.throttle_keys(-4001, NULL, '192.0.2.10/32'))[2], 'ip:192.0.2.10', 'an IPv4 key has no netmask');

-- throttle_record_failure: opens a window at the first failure, then counts within it.
SELECT auth.throttle_record_failure(ARRAY['tap04:first']) AS ignored \gset
SELECT results_eq($$SELECT failures, window_start FROM auth.login_failures WHERE key = 'tap04:first'$$,
                  $$VALUES (1, now())$$, 'a first failure opens a window now with one failure');
UPDATE auth.login_failures SET window_start = now() - interval '5 minutes' WHERE key = 'tap04:first';
SELECT auth.throttle_record_failure(ARRAY['tap04:first']) AS ignored \gset
SELECT results_eq($$SELECT failures, window_start FROM auth.login_failures WHERE key = 'tap04:first'$$,
                  $$VALUES (2, now() - interval '5 minutes')$$, 'a failure inside the window counts, keeping its start');
SELECT auth.throttle_record_failure(ARRAY['tap04:first', 'tap04:second', NULL]) AS ignored \gset
SELECT results_eq($$SELECT key, failures FROM auth.login_failures WHERE key LIKE 'tap04:%' ORDER BY key$$,
                  $$VALUES ('tap04:first', 3), ('tap04:second', 1)$$, 'each key is counted once, NULL keys are skipped');
SELECT lives_ok($$SELECT auth.throttle_record_failure(ARRAY[NULL, NULL]::text[])$$, 'only NULL keys is not an error');
UPDATE auth.login_failures SET failures = 9, window_start = now() - interval '14 minutes 59 seconds' WHERE key = 'tap04:first';
SELECT auth.throttle_record_failure(ARRAY['tap04:first']) AS ignored \gset
SELECT results_eq($$SELECT failures, window_start FROM auth.login_failures WHERE key = 'tap04:first'$$,
                  $$VALUES (10, now() - interval '14 minutes 59 seconds')$$, 'a window 14m59s old still counts');
UPDATE auth.login_failures SET failures = 9, window_start = now() - interval '15 minutes' WHERE key = 'tap04:first';
SELECT auth.throttle_record_failure(ARRAY['tap04:first']) AS ignored \gset
SELECT results_eq($$SELECT failures, window_start FROM auth.login_failures WHERE key = 'tap04:first'$$,
                  $$VALUES (1, now())$$, 'a failure after the window has passed opens a new one at 1');

-- throttle_retry_after, per account key: 5 failures block for the rest of the window.
SELECT is(auth.throttle_retry_after(ARRAY['account:-4002']), 0, 'a key without failures is not blocked');
SELECT is(auth.throttle_retry_after(ARRAY[]::text[]), 0, 'no keys, not blocked');
SELECT is(auth.throttle_retry_after(ARRAY[NULL]::text[]), 0, 'a NULL key is not blocked');
DO $$ BEGIN FOR i IN 1..4 LOOP PERFORM auth.throttle_record_failure(auth.throttle_keys(-4002, NULL, '192.0.2.20')); END LOOP; END $$;
SELECT is(auth.throttle_retry_after(auth.throttle_keys(-4002, NULL, '192.0.2.20')), 0, '4 failures of an account: not blocked');
SELECT auth.throttle_record_failure(auth.throttle_keys(-4002, NULL, '192.0.2.20')) AS ignored \gset
SELECT is(auth.throttle_retry_after(auth.throttle_keys(-4002, NULL, '192.0.2.20')), 900,
          '5 failures of an account: blocked for the whole 15-minute window (900 s)');
SELECT is(auth.throttle_retry_after(auth.throttle_keys(-4002, NULL, '192.0.2.99')), 900,
          'the account stays blocked from another IP');
SELECT is(auth.throttle_retry_after(ARRAY['ip:192.0.2.20']), 0, 'the IP with 5 failures is not blocked by itself');
SELECT is(auth.throttle_retry_after(auth.throttle_keys(-4003, NULL, '192.0.2.20')), 0,
          'another account from the same IP is not blocked');
UPDATE auth.login_failures SET window_start = now() - interval '10 minutes' WHERE key = 'account:-4002';
SELECT is(auth.throttle_retry_after(ARRAY['account:-4002']), 300, 'retry_after counts down with the window (300 s left)');
UPDATE auth.login_failures SET window_start = now() - interval '14 minutes 59.5 seconds' WHERE key = 'account:-4002';
SELECT is(auth.throttle_retry_after(ARRAY['account:-4002']), 1, 'a part of a second left rounds up to 1');
UPDATE auth.login_failures SET window_start = now() - interval '15 minutes' WHERE key = 'account:-4002';
SELECT is(auth.throttle_retry_after(ARRAY['account:-4002']), 0, 'an expired window no longer blocks');
SELECT auth.throttle_record_failure(ARRAY['account:-4002']) AS ignored \gset
SELECT is(auth.throttle_retry_after(ARRAY['account:-4002']), 0, 'a failure after expiry starts over at 1: not blocked');
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'account:-4002'), 1, '... counting 1 failure');

-- Unknown logins are limited like accounts, per (lowercased) login.
DO $$ BEGIN FOR i IN 1..5 LOOP PERFORM auth.throttle_record_failure(auth.throttle_keys(NULL, 'Tap04_Ghost', NULL)); END LOOP; END $$;
SELECT cmp_ok(auth.throttle_retry_after(auth.throttle_keys(NULL, 'TAP04_GHOST', '192.0.2.30')), '>', 0,
              '5 failures of an unknown login block it, whatever its case');
SELECT is(auth.throttle_retry_after(auth.throttle_keys(NULL, 'tap04_ghost2', '192.0.2.30')), 0,
          'another unknown login is not blocked');

-- throttle_retry_after, per IP key: 20 failures are allowed per window.
INSERT INTO auth.login_failures (key, failures, window_start) VALUES ('ip:192.0.2.40', 19, now());
SELECT is(auth.throttle_retry_after(ARRAY['ip:192.0.2.40']), 0, '19 failures from an IP: not blocked');
SELECT auth.throttle_record_failure(auth.throttle_keys(-4004, NULL, '192.0.2.40')) AS ignored \gset
SELECT is(auth.throttle_retry_after(ARRAY['ip:192.0.2.40']), 900, 'the 20th failure from an IP blocks it');
SELECT is(auth.throttle_retry_after(auth.throttle_keys(-4005, NULL, '192.0.2.40')), 900,
          'every account is blocked from that IP');
SELECT is(auth.throttle_retry_after(auth.throttle_keys(-4004, NULL, '192.0.2.41')), 0,
          'the account (1 failure) is not blocked from another IP');
UPDATE auth.login_failures SET window_start = now() - interval '16 minutes' WHERE key = 'ip:192.0.2.40';
SELECT is(auth.throttle_retry_after(ARRAY['ip:192.0.2.40']), 0, 'an expired IP window no longer blocks');

-- The most constrained key decides.
INSERT INTO auth.login_failures (key, failures, window_start) VALUES
  ('account:-4006', 5, now() - interval '10 minutes'),
  ('ip:192.0.2.60', 25, now() - interval '5 minutes'),
  ('ip:192.0.2.61', 3, now());
SELECT is(auth.throttle_retry_after(auth.throttle_keys(-4006, NULL, '192.0.2.60')), 600,
          'with two blocked keys, retry_after is the longer wait');
SELECT is(auth.throttle_retry_after(auth.throttle_keys(-4006, NULL, '192.0.2.61')), 300,
          'with one blocked key, its wait counts');

-- The limits themselves.
SELECT is(auth.throttle_window(), interval '15 minutes', 'the window is 15 minutes');
SELECT is(ARRAY[auth.throttle_limit('account:1'), auth.throttle_limit('login:ab'), auth.throttle_limit('ip:192.0.2.1')],
          ARRAY[5, 5, 20], 'limits: 5 per account or login, 20 per IP');

-- verify_password: a wrong password is a committed 401 counted against every key.
SELECT ext.crypt('the right one', ext.gen_salt('bf', 4)) AS vp_hash \gset
SELECT is(pg_temp.failure(format($$SELECT auth.verify_password(request.context(ip => '192.0.2.70'),
                                  '{account:-4100,ip:192.0.2.70}', 'wrong one', %L, 'no', 'test', -4100)$$, :'vp_hash')),
          '401 INVALID_CREDENTIALS', 'a wrong password returns the 401 body with its status');
SELECT is((SELECT array_agg(failures ORDER BY key) FROM auth.login_failures WHERE key IN ('account:-4100', 'ip:192.0.2.70')),
          ARRAY[1, 1], 'the failure counts against the account and the IP');
SELECT is(auth.verify_password(request.context(ip => '192.0.2.70'),
                               '{account:-4100,ip:192.0.2.70}', 'wrong one', NULL, 'no', 'test', -4100)->>'message', 'no',
          'a missing hash is a wrong password, with the caller''s message');
-- The right password: NULL, the account's count cleared, the IP's kept.
SELECT is(pg_temp.failure(format($$SELECT auth.verify_password(request.context(ip => '192.0.2.70'),
                                  '{account:-4100,ip:192.0.2.70}', 'the right one', %L, 'no', 'test', -4100)$$, :'vp_hash')),
          '- -', 'the right password returns NULL without a status');
SELECT ok(NOT EXISTS (SELECT 1 FROM auth.login_failures WHERE key = 'account:-4100'), 'the account''s count is cleared');
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'ip:192.0.2.70'), 2, 'the IP''s count is kept');
-- A blocked key: 429 even for the right password, and nothing more is counted.
UPDATE auth.login_failures SET failures = 20 WHERE key = 'ip:192.0.2.70';
SELECT is(pg_temp.error_of(format($$SELECT auth.verify_password(request.context(ip => '192.0.2.70'),
                                  '{account:-4100,ip:192.0.2.70}', 'the right one', %L, 'no', 'test', -4100)$$, :'vp_hash'))->>'sqlstate',
          'PT429', 'while a key is blocked even the right password raises PT429');
SELECT ok((pg_temp.error_of(format($$SELECT auth.verify_password(request.context(ip => '192.0.2.70'),
                                  '{account:-4100,ip:192.0.2.70}', 'x', %L, 'no', 'test', -4100)$$, :'vp_hash'))
           #>> '{detail,details,retry_after}')::int BETWEEN 1 AND 900, 'the 429 carries retry_after in seconds');

SELECT * FROM finish();
ROLLBACK;
