-- The rate limits at the routes (issue 15 items 1, 2, 5, 7, 10; issue 21
-- item 1): a password change to the current password, the holder of a
-- session against a flood of failed logins, a login that cannot be one, a
-- login racing a password change, GET /availability, sign-up, and the
-- activity write rate. The counting itself: 04_rate_limits.sql.
-- Calls run as the gateway role (pg_temp.ctx, helpers.psql); fixtures and
-- inspections as the superuser (RESET ROLE).
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(35);

\ir helpers.psql

INSERT INTO auth.accounts (username, email, password_hash) VALUES
  ('tap14_ann', 'tap14.ann@example.com', auth.hash_password('ann password 1')),
  ('tap14_bob', 'tap14.bob@example.com', auth.hash_password('bob password 1'));
SELECT id AS ann FROM auth.accounts WHERE username = 'tap14_ann' \gset
SELECT id AS bob FROM auth.accounts WHERE username = 'tap14_bob' \gset
-- Sets a counter as if that many attempts had been made this window.
CREATE FUNCTION pg_temp.attempts(k text, n integer) RETURNS void LANGUAGE sql AS $$
  INSERT INTO auth.login_failures (key, failures, window_start) VALUES (k, n, now())
  ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, window_start = excluded.window_start
$$;

-- ============================================================================
-- A new password equal to the current one: 422, before bcrypt, not counted.
-- ============================================================================
SET LOCAL ROLE gateway;
SELECT api.login(pg_temp.ctx(browser => 'UA-Ann', ip => '203.0.113.140'), 'tap14_ann', 'ann password 1') ->> 'token' AS ann1 \gset
SELECT is(pg_temp.error_of(format('SELECT api.change_password(pg_temp.ctx(%L, %L, %L), %L, %L)', :'ann1', 'UA-Ann', '203.0.113.140',
                                  'ann password 1', 'ann password 1')) - 'hint',
          '{"sqlstate": "PT422", "message": "some fields are invalid",
            "detail": {"code": "VALIDATION", "details": {"new_password": "is the same as the current password"}}}'::jsonb,
          'a change to the same password is a 422 naming new_password');
RESET ROLE;
SELECT is((SELECT count(*) FROM auth.login_failures WHERE key = 'password_account:account:' || :ann), 0::bigint,
          '... refused before counting, so before bcrypt');
SET LOCAL ROLE gateway;

-- ============================================================================
-- Failed logins of others do not refuse the holder of a session.
-- ============================================================================
-- Guessers from many addresses: Ann's account-wide login limit is used up,
-- and five addresses are blocked for her.
RESET ROLE;
SELECT count(pg_temp.attempts('login_failures:account:' || :ann || ' ip:198.51.100.' || i, 5)) AS ignored
  FROM generate_series(1, 5) i \gset
SELECT pg_temp.attempts('login_account:account:' || :ann, 20) AS ignored \gset
SET LOCAL ROLE gateway;
SELECT is(pg_temp.error_of($$SELECT api.login(pg_temp.ctx(browser => 'UA-Ann-2', ip => '198.51.100.1'), 'tap14_ann', 'ann password 1')$$)
            #>> '{detail,code}', 'RATE_LIMITED', 'while others guess, logins of Ann are slowed (429) ...');
SELECT cmp_ok((pg_temp.error_of($$SELECT api.login(pg_temp.ctx(browser => 'UA-Ann-2', ip => '203.0.113.141'), 'tap14_ann', 'ann password 1')$$)
                 #>> '{detail,details,retry_after}')::int, '<=', 60, '... for at most a minute from an address that did not guess');
SELECT matches(api.login(pg_temp.ctx(browser => 'UA-Ann-2', ip => '203.0.113.140'), 'tap14_ann', 'ann password 1') ->> 'token',
               '^[A-Za-z0-9_-]{43}$', 'from the address of her last login, Ann logs in all the same');
SELECT is(pg_temp.failure(format('SELECT api.change_password(pg_temp.ctx(%L, %L, %L), %L, %L)', :'ann1', 'UA-Ann', '203.0.113.140',
                                 'ann password 1', 'ann password 2')),
          '- -', 'and, holding a session, changes her password');
SELECT api.login(pg_temp.ctx(browser => 'UA-Bob', ip => '203.0.113.142'), 'tap14_bob', 'bob password 1') ->> 'token' AS bob1 \gset
RESET ROLE;
SELECT pg_temp.attempts('login_failures:account:' || :bob || ' ip:198.51.100.9', 5),
       pg_temp.attempts('login_account:account:' || :bob, 20) AS ignored \gset
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure(format('SELECT api.delete_account(pg_temp.ctx(%L, %L, %L), %L)', :'bob1', 'UA-Bob', '203.0.113.142',
                                 'bob password 1')),
          '- -', 'and Bob, holding a session, deletes his account');

-- ============================================================================
-- A login that cannot be one: the 401 of an unknown login, no table read.
-- ============================================================================
RESET ROLE;
-- Scans of the database's tables so far in this transaction (not of the
-- temporary tables in which pgTAP keeps its results).
CREATE FUNCTION pg_temp.tables_read() RETURNS bigint LANGUAGE sql AS $$
  SELECT sum(coalesce(seq_scan, 0) + coalesce(idx_scan, 0))::bigint FROM pg_stat_xact_user_tables
   WHERE schemaname NOT LIKE 'pg\_temp\_%'
$$;
SELECT (SELECT count(*) FROM audit.logs) AS logs0, (SELECT count(*) FROM auth.login_failures) AS counters0 \gset
SELECT pg_temp.tables_read() AS read0 \gset
SET LOCAL ROLE gateway;
SELECT api.login(pg_temp.ctx(browser => 'UA', ip => '203.0.113.143'), repeat('a', 1 << 20), 'some password') AS long_login \gset
RESET ROLE;
SELECT pg_temp.tables_read() AS read1 \gset
SELECT is(:'long_login'::jsonb, '{"$status": 401, "code": "INVALID_CREDENTIALS", "message": "unknown login or wrong password",
                                  "details": null, "hint": null}'::jsonb,
          'a 1 MiB login is a 401 INVALID_CREDENTIALS');
SELECT is(:read1::bigint - :read0::bigint, 0::bigint, '... answered without reading any table (pg_stat_xact_user_tables)');
SELECT is((SELECT count(*) FROM auth.login_failures), :counters0::bigint, '... without a counter');
SELECT is((SELECT count(*) FROM audit.logs), :logs0::bigint, '... and without a log row');
SELECT pg_temp.tables_read() AS read1 \gset
SET LOCAL ROLE gateway;
SELECT api.login(pg_temp.ctx(browser => 'UA', ip => '203.0.113.143'), 'tap14_nobody', 'some password') AS short_login \gset
RESET ROLE;
SELECT pg_temp.tables_read() AS read2 \gset
SELECT is(:'short_login'::jsonb, :'long_login'::jsonb, 'the same answer as an unknown login of a sane length');
SELECT cmp_ok(:read2::bigint - :read1::bigint, '>', 0::bigint, '... which does read tables (the measure works)');
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure(format('SELECT api.login(pg_temp.ctx(browser => %L, ip => %L), %L, %L)', 'UA', '203.0.113.143',
                                 repeat('x', 255), 'some password')),
          '401 INVALID_CREDENTIALS', 'a 255-character login is refused the same way');
RESET ROLE;
SELECT pg_temp.tables_read() AS read3 \gset
SELECT is(:read3::bigint - :read2::bigint, 0::bigint, '... without a table read');
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure(format('SELECT api.login(pg_temp.ctx(browser => %L, ip => %L), %L, %L)', 'UA', '203.0.113.143',
                                 'tap14_ann', repeat('p', 1 << 20))),
          '401 INVALID_CREDENTIALS', 'a 1 MiB password is the 401 of a wrong password');
RESET ROLE;
SELECT pg_temp.tables_read() AS read4 \gset
SELECT is(:read4::bigint - :read3::bigint, 0::bigint, '... without a table read');
SET LOCAL ROLE gateway;
SELECT is(api.availability(pg_temp.ctx(), repeat('u', 1 << 20), repeat('e', 1 << 20))::jsonb, '{"status": "OK"}',
          'a 1 MiB username and e-mail are available (they cannot be taken) ...');
RESET ROLE;
SELECT is(pg_temp.tables_read() - :read4::bigint, 0::bigint, '... found without a lookup');
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure(format('SELECT api.current_session(pg_temp.ctx(%L, %L))', repeat('t', 1 << 20), 'UA')),
          '401 INVALID', 'a 1 MiB token is INVALID');
RESET ROLE;
SELECT is(pg_temp.tables_read() - :read4::bigint, 0::bigint, '... without a lookup');

-- ============================================================================
-- A login racing a password change gets no session. Simulated: the change
-- commits between the login's read of the hash and its session, which here
-- is when the login counts its attempt (a trigger on the counters changes
-- the hash, as a concurrent api.change_password would).
-- ============================================================================
CREATE FUNCTION pg_temp.tap14_change_password() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('tap14.race', true) <> '' THEN
    UPDATE auth.accounts SET password_hash = auth.hash_password('changed meanwhile')
     WHERE id = current_setting('tap14.race')::bigint;
    DELETE FROM auth.account_sessions WHERE account_id = current_setting('tap14.race')::bigint;
    PERFORM set_config('tap14.race', '', true);
  END IF;
  RETURN NULL;
END
$$;
CREATE TRIGGER tap14_race AFTER INSERT OR UPDATE OR DELETE ON auth.login_failures
  FOR EACH STATEMENT EXECUTE FUNCTION pg_temp.tap14_change_password();
-- The guessers above are gone.
SELECT pg_temp.attempts('login_account:account:' || :ann, 0) AS ignored \gset
SELECT set_config('tap14.race', :'ann', true) AS ignored \gset
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure($$SELECT api.login(pg_temp.ctx(browser => 'UA-Race', ip => '203.0.113.144', request_id => 'tap14-race'),
                                             'tap14_ann', 'ann password 2')$$),
          '401 INVALID_CREDENTIALS', 'a login whose verified password changed meanwhile is a 401');
RESET ROLE;
SELECT is(current_setting('tap14.race'), '', '(the change did happen in between)');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :ann), 0::bigint, '... and makes no session');
SELECT is((SELECT details FROM audit.logs WHERE request_id = 'tap14-race' ORDER BY id DESC LIMIT 1),
          '{"reason": "password changed or account disabled meanwhile"}'::jsonb, '... logged as "login failed" with why');
DROP TRIGGER tap14_race ON auth.login_failures;

-- ============================================================================
-- GET /availability: 30 a minute per client IP; a 422 is not counted.
-- ============================================================================
SELECT pg_temp.attempts('availability_ip:ip:203.0.113.145', 29) AS ignored \gset
SET LOCAL ROLE gateway;
SELECT throws_ok($$SELECT api.availability(pg_temp.ctx(ip => '203.0.113.145'), NULL, NULL)$$, 'PT422', NULL,
                 'availability without arguments is a 422 ...');
SELECT is(api.availability(pg_temp.ctx(ip => '203.0.113.145'), 'tap14_ann', NULL)::jsonb, '{"status": "USERNAME"}',
          '... not counted: the 30th question of a minute is answered');
SELECT is(pg_temp.error_of($$SELECT api.availability(pg_temp.ctx(ip => '203.0.113.145'), 'tap14_ann', NULL)$$) -> 'detail',
          '{"code": "RATE_LIMITED", "details": {"retry_after": 60}}'::jsonb, 'the 31st is a 429 RATE_LIMITED');
SELECT is(api.availability(pg_temp.ctx(ip => '203.0.113.146'), 'tap14_ann', NULL)::jsonb, '{"status": "USERNAME"}',
          'another address is answered');

-- ============================================================================
-- Sign-up: counted per client IP with every bcrypt call, 409s included.
-- ============================================================================
RESET ROLE;
SELECT pg_temp.attempts('bcrypt_ip:ip:203.0.113.147', 28) AS ignored \gset
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(ip => '203.0.113.147'), 'tap14_ann', 'tap14.x@example.com', 'a password', NULL)$$),
          '409 USERNAME_TAKEN', 'a taken username is a committed 409 ...');
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(ip => '203.0.113.147'), 'tap14_new', 'tap14.new@example.com', 'a password', NULL)$$),
          '- -', '... counted: the next sign-up is the 30th of the minute');
SELECT is(pg_temp.error_of($$SELECT api.signup(pg_temp.ctx(ip => '203.0.113.147'), 'tap14_new2', 'tap14.new2@example.com', 'a password', NULL)$$)
            #>> '{detail,code}', 'RATE_LIMITED', 'the 31st bcrypt call of a minute from that address is a 429');

-- ============================================================================
-- Activities and replies: 30 a minute per account, together.
-- ============================================================================
RESET ROLE;
SELECT auth.create_account_session('tap14_ann', 'UA-Ann-3') AS ann3 \gset
SELECT pg_temp.attempts('activity_account:account:' || :ann, 28) AS ignored \gset
SET LOCAL ROLE gateway;
SELECT api.create_activity(pg_temp.ctx(:'ann3', 'UA-Ann-3'), 'the 29th of the minute', NULL) #>> '{activity,uuid}' AS act \gset
SELECT is(api.reply_to_activity(pg_temp.ctx(:'ann3', 'UA-Ann-3'), :'act', 'the 30th') #>> '{activity,message}', 'the 30th',
          'a reply counts with activities: the 30th write of a minute is made');
SELECT is(pg_temp.error_of(format('SELECT api.create_activity(pg_temp.ctx(%L, %L), %L, NULL)', :'ann3', 'UA-Ann-3', 'the 31st')) -> 'detail',
          '{"code": "RATE_LIMITED", "details": {"retry_after": 60}}'::jsonb, 'the 31st activity is a 429 RATE_LIMITED');
SELECT is(pg_temp.error_of(format('SELECT api.reply_to_activity(pg_temp.ctx(%L, %L), %L, %L)', :'ann3', 'UA-Ann-3', :'act', 'the 31st'))
            #>> '{detail,code}', 'RATE_LIMITED', 'so is the 31st reply');

RESET ROLE;
SELECT * FROM finish();
ROLLBACK;
