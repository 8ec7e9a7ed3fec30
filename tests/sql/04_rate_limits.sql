-- Rate limits (the tables: sql/migrations/002_auth.sql, 011_rate_limits.sql;
-- the functions: sql/code/auth.sql): the limits of auth.rate_limits, the
-- keys (auth.ip_subject, auth.login_subject, auth.login_keys,
-- auth.password_keys), the one counting function auth.rate_count,
-- auth.rate_exhausted, auth.throttle_window and auth.verify_password.
BEGIN;
SELECT plan(48);

\ir helpers.psql
-- (Statements run for their effect end in \gset, which swallows their output.)

-- The documented limits (docs/api.md, "Rate limits").
SELECT results_eq($$SELECT name, max_hits, per, success FROM auth.rate_limits ORDER BY name$$,
                  $$VALUES ('activity_account', 30, interval '1 minute', 'counts'),
                           ('availability_ip', 30, interval '1 minute', 'counts'),
                           ('bcrypt_ip', 30, interval '1 minute', 'counts'),
                           ('confirm_account', 5, interval '1 hour', 'counts'),
                           ('login_account', 20, interval '1 minute', 'counts'),
                           ('login_failures', 5, interval '15 minutes', 'clears'),
                           ('login_failures_ip', 20, interval '15 minutes', 'refunded'),
                           ('password_account', 10, interval '1 hour', 'counts'),
                           ('reset_email', 5, interval '1 hour', 'counts'),
                           ('reset_ip', 20, interval '1 hour', 'counts'),
                           ('unsubscribe_ip', 60, interval '1 minute', 'counts')$$,
                  'the limits, as documented');
SELECT is(auth.throttle_window(), interval '1 day', 'throttle_window, when maintenance deems a counter stale, is a day ...');
SELECT throws_ok($$UPDATE auth.rate_limits SET per = interval '1 day 1 second' WHERE name = 'bcrypt_ip'$$, '23514', NULL,
                 '... and no limit''s window may be longer');

-- Subjects and keys.
SELECT is(auth.ip_subject('2001:db8::7/128'), 'ip:2001:db8::7', 'an IPv6 subject has no netmask');
SELECT is(auth.ip_subject('192.0.2.10/32'), 'ip:192.0.2.10', 'an IPv4 subject has no netmask');
SELECT is(auth.ip_subject(NULL), NULL, 'no IP, no subject');
SELECT is(auth.login_subject(-4001, 'tap04_whoever'), 'account:-4001', 'a known account is account:<id>, whatever was typed');
SELECT is(auth.login_subject(NULL, 'Tap04_Nobody'), 'login:' || encode(sha256(convert_to('tap04_nobody', 'UTF8')), 'hex'),
          'an unknown login is login:<sha256 hex of the lowercased login>');
SELECT isnt(auth.login_subject(NULL, 'tap04_nobody'), auth.login_subject(NULL, 'tap04_somebody'),
            'different unknown logins get different subjects');
SELECT is(strpos(array_to_string(auth.login_keys(NULL, 'tap04 typed-password-here', '192.0.2.10'), ','), 'typed-password'), 0,
          'the login text itself is in no key');
SELECT is(auth.login_keys(-4001, 'x', '192.0.2.10'),
          ARRAY['bcrypt_ip:ip:192.0.2.10', 'login_account:account:-4001', 'login_failures:account:-4001 ip:192.0.2.10',
                'login_failures_ip:ip:192.0.2.10'],
          'a login counts per IP, per account, failures per account and IP, failures per IP');
SELECT is(auth.login_keys(-4001, NULL, NULL),
          ARRAY[NULL, 'login_account:account:-4001', 'login_failures:account:-4001 ip:-', NULL],
          'without an IP (psql) the IP keys are NULL and the pair key says so');
SELECT is(auth.login_keys(NULL, 'TAP04_GHOST', '192.0.2.10'), auth.login_keys(NULL, 'tap04_ghost', '192.0.2.10'),
          'an unknown login''s keys ignore case');
SELECT is(auth.password_keys(-4001, '192.0.2.10'), ARRAY['bcrypt_ip:ip:192.0.2.10', 'password_account:account:-4001'],
          'a password change or deletion counts per IP and per account, under keys no login shares but bcrypt_ip');

-- rate_count: one attempt per key, the window opened by the first.
INSERT INTO auth.rate_limits (name, max_hits, per, what) VALUES ('tap_three', 3, interval '1 minute', 'pgTAP'),
                                                                ('tap_ten', 10, interval '10 minutes', 'pgTAP');
SELECT auth.rate_count(ARRAY['tap_three:a']) AS ignored \gset
SELECT results_eq($$SELECT failures, window_start FROM auth.login_failures WHERE key = 'tap_three:a'$$,
                  $$VALUES (1, now())$$, 'a first attempt opens a window now, with one attempt');
SELECT auth.rate_count(ARRAY['tap_three:a', 'tap_three:b', NULL, 'tap_three:a']) AS ignored \gset
SELECT results_eq($$SELECT key, failures FROM auth.login_failures WHERE key LIKE 'tap_three:%' ORDER BY key$$,
                  $$VALUES ('tap_three:a', 2), ('tap_three:b', 1)$$, 'each key is counted once per attempt, NULL keys are skipped');
SELECT lives_ok($$SELECT auth.rate_count(ARRAY[NULL, NULL]::text[])$$, 'only NULL keys is not an error');
SELECT lives_ok($$SELECT auth.rate_count(ARRAY['tap_three:a'])$$, 'the third attempt of three is allowed');
SELECT is(pg_temp.error_of($$SELECT auth.rate_count(ARRAY['tap_three:a'])$$) - 'hint',
          '{"sqlstate": "PT429", "message": "too many attempts; try again later",
            "detail": {"code": "RATE_LIMITED", "details": {"retry_after": 60}}}'::jsonb,
          'the fourth raises 429 RATE_LIMITED with retry_after, the seconds left in the window');
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'tap_three:a'), 3, 'a refused attempt is not counted (rolled back)');
UPDATE auth.login_failures SET window_start = now() - interval '40.5 seconds' WHERE key = 'tap_three:a';
SELECT is(pg_temp.error_of($$SELECT auth.rate_count(ARRAY['tap_three:a'])$$) #>> '{detail,details,retry_after}', '20',
          'retry_after counts down with the window, a part of a second rounding up');
SELECT is(pg_temp.error_of($$SELECT auth.rate_count(ARRAY['tap_three:b', 'tap_three:a'])$$) ->> 'sqlstate', 'PT429',
          'one key past its limit refuses the attempt ...');
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'tap_three:b'), 1, '... and counts it against none of its keys');
UPDATE auth.login_failures SET window_start = now() - interval '1 minute' WHERE key = 'tap_three:a';
SELECT lives_ok($$SELECT auth.rate_count(ARRAY['tap_three:a'])$$, 'once the window has passed, attempts are allowed again');
SELECT results_eq($$SELECT failures, window_start FROM auth.login_failures WHERE key = 'tap_three:a'$$,
                  $$VALUES (1, now())$$, '... in a new window, counting from 1');
INSERT INTO auth.login_failures VALUES ('tap_ten:c', 10, now() - interval '5 minutes'), ('tap_three:c', 3, now() - interval '30 seconds');
SELECT is(pg_temp.error_of($$SELECT auth.rate_count(ARRAY['tap_three:c', 'tap_ten:c'])$$) #>> '{detail,details,retry_after}', '300',
          'with two keys past their limits, retry_after is the longer wait');
SELECT throws_ok($$SELECT auth.rate_count(ARRAY['tap_nosuchlimit:x'])$$, 'P0001', 'auth.rate_count: no rate limit named tap_nosuchlimit',
                 'a key of no limit is a bug, raised');

-- rate_exhausted: the limits that have no attempt left, for the log.
SELECT is((auth.rate_exhausted(ARRAY['tap_three:c', 'tap_ten:c', 'tap_three:b', 'tap_other:x'])).limits,
          ARRAY['tap_ten', 'tap_three'], 'rate_exhausted names the limits used up ...');
SELECT is((auth.rate_exhausted(ARRAY['tap_three:c', 'tap_ten:c', 'tap_three:b'])).retry_after, 300, '... and the longest wait');
SELECT is((auth.rate_exhausted(ARRAY['tap_three:b'])).limits, NULL, 'none used up: NULL');

-- A changed limit is logged; the gateway cannot change one.
UPDATE auth.rate_limits SET max_hits = 4 WHERE name = 'tap_three';
SELECT is((SELECT details FROM audit.logs WHERE message = 'rate limit changed' ORDER BY id DESC LIMIT 1),
          jsonb_build_object('limit', 'tap_three', 'from', jsonb_build_object('max_hits', 3, 'per', '00:01:00', 'success', 'counts'),
                             'to', jsonb_build_object('max_hits', 4, 'per', '00:01:00', 'success', 'counts'), 'by', session_user),
          'a changed limit is logged (WARN "rate limit changed"), with who changed it');
SET LOCAL ROLE gateway;
SELECT throws_ok($$UPDATE auth.rate_limits SET max_hits = 1000000$$, '42501', NULL, 'the gateway cannot lift a limit');
SELECT throws_ok($$DELETE FROM auth.login_failures$$, '42501', NULL, 'nor reset a counter');
RESET ROLE;

-- verify_password: counts before bcrypt; a wrong password is a committed 401.
SELECT ext.crypt('the right one', ext.gen_salt('bf', 4)) AS vp_hash \gset
SELECT auth.login_keys(-4100, NULL, '192.0.2.70') AS vp_keys \gset
SELECT is(pg_temp.failure(format($$SELECT auth.verify_password(request.context(ip => '192.0.2.70'), %L,
                                  'wrong one', %L, 'no', 'test', -4100)$$, :'vp_keys', :'vp_hash')),
          '401 INVALID_CREDENTIALS', 'a wrong password returns the 401 body with its status');
SELECT is((SELECT array_agg(failures ORDER BY key) FROM auth.login_failures WHERE key = ANY (:'vp_keys')),
          ARRAY[1, 1, 1, 1], 'the attempt counts against every key');
SELECT is(auth.verify_password(request.context(ip => '192.0.2.70'), :'vp_keys', 'wrong one', NULL, 'no', 'test', -4100)->>'message',
          'no', 'a missing hash is a wrong password, with the caller''s message');
-- The right password: NULL; the account-and-IP failures start over, the IP's
-- failures get the attempt back, the attempt rates keep it.
SELECT is(pg_temp.failure(format($$SELECT auth.verify_password(request.context(ip => '192.0.2.70'), %L,
                                  'the right one', %L, 'no', 'test', -4100)$$, :'vp_keys', :'vp_hash')),
          '- -', 'the right password returns NULL without a status');
SELECT results_eq(format($$SELECT key, failures FROM auth.login_failures WHERE key = ANY (%L) ORDER BY key$$, :'vp_keys'),
                  $$VALUES ('bcrypt_ip:ip:192.0.2.70', 3), ('login_account:account:-4100', 3),
                           ('login_failures_ip:ip:192.0.2.70', 2)$$,
                  'after two failures and a success: attempts 3, the pair cleared, the IP''s failures 2');
-- A used-up limit: 429 even for the right password, nothing counted, nothing logged.
UPDATE auth.login_failures SET failures = 20 WHERE key = 'login_failures_ip:ip:192.0.2.70';
SELECT count(*) AS logs_before FROM audit.logs \gset
SELECT is(pg_temp.error_of(format($$SELECT auth.verify_password(request.context(ip => '192.0.2.70'), %L,
                                  'the right one', %L, 'no', 'test', -4100)$$, :'vp_keys', :'vp_hash')) #>> '{detail,code}',
          'RATE_LIMITED', 'while a key is used up even the right password raises 429 RATE_LIMITED');
SELECT is((SELECT count(*) FROM audit.logs), :logs_before::bigint, '... and nothing is logged');
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'bcrypt_ip:ip:192.0.2.70'), 3, '... nor counted');
-- The failure that uses the last try of a limit logs it, by limit name.
UPDATE auth.login_failures SET failures = 19 WHERE key = 'login_failures_ip:ip:192.0.2.70';
SELECT auth.verify_password(request.context(ip => '192.0.2.70', request_id => 'tap04-last'), :'vp_keys', 'wrong one', :'vp_hash',
                            'no', 'test', -4100) AS ignored \gset
SELECT is((SELECT array_agg(message || ' ' || details::text ORDER BY id) FROM audit.logs WHERE request_id = 'tap04-last'),
          ARRAY['test failed {"reason": "wrong password"}', 'test throttled {"keys": ["login_failures_ip"], "retry_after": 900}'],
          'the failure that used the last try logs "<action> failed" and "<action> throttled" naming the limit');

-- The account-and-IP block: five failures block that pair only.
SELECT auth.login_keys(-4200, NULL, '192.0.2.80') AS pair_a \gset
DO $$ BEGIN FOR i IN 1..5 LOOP
  PERFORM auth.verify_password(request.context(ip => '192.0.2.80'), auth.login_keys(-4200, NULL, '192.0.2.80'), 'wrong', NULL, 'no', 'test', -4200);
END LOOP; END $$;
SELECT is(pg_temp.error_of(format($$SELECT auth.verify_password(request.context(ip => '192.0.2.80'), %L, 'x', NULL, 'no', 'test', -4200)$$,
                                  :'pair_a')) #> '{detail,details}',
          '{"retry_after": 900}'::jsonb, 'five failures of an account from one address block that address for 15 minutes');
SELECT is(pg_temp.failure($$SELECT auth.verify_password(request.context(ip => '192.0.2.81'), auth.login_keys(-4200, NULL, '192.0.2.81'),
                                                        'wrong', NULL, 'no', 'test', -4200)$$),
          '401 INVALID_CREDENTIALS', 'the same account from another address is not blocked');
-- The account-wide key slows: past 20 attempts in a minute, a 429 of at most a minute.
UPDATE auth.login_failures SET failures = 20 WHERE key = 'login_account:account:-4200';
SELECT cmp_ok((pg_temp.error_of($$SELECT auth.verify_password(request.context(ip => '192.0.2.82'), auth.login_keys(-4200, NULL, '192.0.2.82'),
                                                              'x', NULL, 'no', 'test', -4200)$$) #>> '{detail,details,retry_after}')::int,
              '<=', 60, 'past the account-wide limit, a 429 of at most a minute, from any address');
-- ... which a password change does not share.
SELECT lives_ok(format($$SELECT auth.verify_password(request.context(ip => '192.0.2.83'), auth.password_keys(-4200, '192.0.2.83'),
                                                     'the right one', %L, 'no', 'test', -4200)$$, :'vp_hash'),
                'a password change of that account (another key) is not refused');

-- Unknown logins are limited as accounts are.
DO $$ BEGIN FOR i IN 1..5 LOOP
  PERFORM auth.verify_password(request.context(ip => '192.0.2.90'), auth.login_keys(NULL, 'Tap04_Ghost', '192.0.2.90'), 'x', NULL, 'no', 'test', NULL);
END LOOP; END $$;
SELECT is(pg_temp.error_of($$SELECT auth.verify_password(request.context(ip => '192.0.2.90'), auth.login_keys(NULL, 'TAP04_GHOST', '192.0.2.90'),
                                                         'x', NULL, 'no', 'test', NULL)$$) ->> 'sqlstate',
          'PT429', 'five failures of an unknown login from one address block it, whatever its case');

-- auth.password_matches: a candidate over 72 bytes is refused before bcrypt.
SELECT ok(NOT auth.password_matches(repeat('p', 1 << 20), :'vp_hash'), 'a 1 MiB password does not match');

SELECT * FROM finish();
ROLLBACK;
