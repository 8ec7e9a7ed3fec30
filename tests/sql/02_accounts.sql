-- Accounts (the table and its display_name trigger: sql/migrations/002_auth.sql;
-- the functions: sql/code/auth.sql): table constraints, the display_name
-- trigger, password hashing, availability and validation; then the account
-- routes (sql/code/api/accounts.sql): sign-up, availability, changes of the
-- account and its password, deletion.
BEGIN;
SELECT plan(117);

-- (Lookups below spell usernames exactly: citext's "=" lives in schema ext,
-- which is not on this session's search_path, so "=" here compares as text.)
-- A fixture account; auth.dummy_password_hash() is a valid bcrypt hash that
-- spares a bcrypt computation where the password does not matter.
INSERT INTO auth.accounts (username, email, password_hash, display_name)
VALUES ('Tap02_Alice', 'Tap02.Alice@Example.com', auth.dummy_password_hash(), 'Alice A.');

-- Uniqueness ignores case, for usernames and e-mails.
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02_alice', 'tap02.other@example.com', auth.dummy_password_hash())$$,
                 '23505', NULL, 'a username differing only in case is a duplicate');
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02_other', 'TAP02.ALICE@EXAMPLE.COM', auth.dummy_password_hash())$$,
                 '23505', NULL, 'an e-mail differing only in case is a duplicate');
SELECT is((SELECT email::text FROM auth.accounts WHERE username = 'Tap02_Alice'), 'Tap02.Alice@Example.com',
          'the e-mail is stored as spelled');

-- Username format: 3 to 32 of [A-Za-z0-9_.-].
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('ab', 'tap02.u1@example.com', auth.dummy_password_hash())$$,
                 '23514', NULL, 'a 2-character username is refused');
SELECT throws_ok(format($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES (%L, 'tap02.u2@example.com', auth.dummy_password_hash())$$, repeat('u', 33)),
                 '23514', NULL, 'a 33-character username is refused');
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02 bob', 'tap02.u3@example.com', auth.dummy_password_hash())$$,
                 '23514', NULL, 'a username with a space is refused');
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02@bob', 'tap02.u4@example.com', auth.dummy_password_hash())$$,
                 '23514', NULL, 'a username with "@" is refused');
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02_bøb', 'tap02.u5@example.com', auth.dummy_password_hash())$$,
                 '23514', NULL, 'a username with a non-ASCII letter is refused');
SELECT lives_ok(format($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES (%L, 'tap02.u6@example.com', auth.dummy_password_hash())$$, 'tap02_' || repeat('u', 26)),
                'a 32-character username is accepted');
SELECT lives_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                  VALUES ('t.2', 'tap02.u7@example.com', auth.dummy_password_hash()),
                         ('tap02-Bob_1.x', 'tap02.u8@example.com', auth.dummy_password_hash())$$,
                'usernames of 3 characters, and with "_", "." and "-", are accepted');

-- E-mail format: one "@" with something on each side, no space, at most 254 characters.
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02_e1', 'tap02.example.com', auth.dummy_password_hash())$$,
                 '23514', NULL, 'an e-mail without "@" is refused');
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02_e2', 'tap02@b@example.com', auth.dummy_password_hash())$$,
                 '23514', NULL, 'an e-mail with two "@" is refused');
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02_e3', '@example.com', auth.dummy_password_hash())$$,
                 '23514', NULL, 'an e-mail with nothing before "@" is refused');
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02_e4', 'tap02 x@example.com', auth.dummy_password_hash())$$,
                 '23514', NULL, 'an e-mail with a space is refused');
SELECT throws_ok(format($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02_e5', %L, auth.dummy_password_hash())$$, repeat('e', 243) || '@example.com'),
                 '23514', NULL, 'a 255-character e-mail is refused');
SELECT lives_ok(format($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02_e6', %L, auth.dummy_password_hash())$$, repeat('e', 242) || '@example.com'),
                'a 254-character e-mail is accepted');

-- Role: user (the default), author or admin.
SELECT is((SELECT role FROM auth.accounts WHERE username = 'Tap02_Alice'), 'user', 'the role defaults to user');
SELECT lives_ok($$UPDATE auth.accounts SET role = 'admin' WHERE username = 'Tap02_Alice'$$, 'role admin is accepted');
SELECT lives_ok($$UPDATE auth.accounts SET role = 'author' WHERE username = 'Tap02_Alice'$$, 'role author is accepted');
SELECT throws_ok($$UPDATE auth.accounts SET role = 'root' WHERE username = 'Tap02_Alice'$$,
                 '23514', NULL, 'an unknown role is refused');

-- The stored password must be a bcrypt hash; display_name at most 64 characters.
SELECT throws_ok($$INSERT INTO auth.accounts (username, email, password_hash)
                   VALUES ('tap02_p1', 'tap02.p1@example.com', 'correct horse battery staple')$$,
                 '23514', NULL, 'a plain-text password_hash is refused');
SELECT throws_ok(format($$INSERT INTO auth.accounts (username, email, password_hash, display_name)
                   VALUES ('tap02_d1', 'tap02.d1@example.com', auth.dummy_password_hash(), %L)$$, repeat('d', 65)),
                 '23514', NULL, 'a 65-character display_name is refused');

-- The display_name trigger: defaults to the username, an empty or blank one falls back to it.
INSERT INTO auth.accounts (username, email, password_hash, display_name) VALUES
  ('Tap02_NoName', 'tap02.n1@example.com', auth.dummy_password_hash(), NULL),
  ('Tap02_Empty', 'tap02.n2@example.com', auth.dummy_password_hash(), ''),
  ('Tap02_Blank', 'tap02.n3@example.com', auth.dummy_password_hash(), '   ');
INSERT INTO auth.accounts (username, email, password_hash)
VALUES ('Tap02_Omitted', 'tap02.n4@example.com', auth.dummy_password_hash());
SELECT is((SELECT display_name FROM auth.accounts WHERE username = 'Tap02_NoName'), 'Tap02_NoName',
          'a NULL display_name becomes the username, as spelled');
SELECT is((SELECT display_name FROM auth.accounts WHERE username = 'Tap02_Omitted'), 'Tap02_Omitted',
          'an omitted display_name becomes the username');
SELECT is((SELECT display_name FROM auth.accounts WHERE username = 'Tap02_Empty'), 'Tap02_Empty',
          'an empty display_name becomes the username');
SELECT is((SELECT display_name FROM auth.accounts WHERE username = 'Tap02_Blank'), 'Tap02_Blank',
          'a blank display_name becomes the username');
SELECT is((SELECT display_name FROM auth.accounts WHERE username = 'Tap02_Alice'), 'Alice A.',
          'a given display_name is kept');
UPDATE auth.accounts SET display_name = '' WHERE username = 'Tap02_Alice';
SELECT is((SELECT display_name FROM auth.accounts WHERE username = 'Tap02_Alice'), 'Tap02_Alice',
          'updating display_name to empty falls back to the username');
UPDATE auth.accounts SET display_name = 'Alice again' WHERE username = 'Tap02_Alice';
UPDATE auth.accounts SET username = 'Tap02_Alicia' WHERE username = 'Tap02_Alice';
SELECT is((SELECT display_name FROM auth.accounts WHERE username = 'Tap02_Alicia'), 'Alice again',
          'renaming keeps a non-empty display_name');

-- auth.hash_password: bcrypt with an explicit cost of at least 10 (never pgcrypto's default 6), salted.
SELECT auth.hash_password('tap02 secret pw') AS hash1, auth.hash_password('tap02 secret pw') AS hash2 \gset
SELECT matches(:'hash1'::text, '^\$2[abxy]\$[0-9]{2}\$[./A-Za-z0-9]{53}$', 'hash_password returns a bcrypt hash');
SELECT cmp_ok(substr(:'hash1', 5, 2)::int, '>=', 10, 'the bcrypt cost is at least 10');
SELECT isnt(substr(:'hash1', 1, 7), '$2a$06$', 'the bcrypt cost is not pgcrypto''s default 6');
SELECT isnt(:'hash1'::text, :'hash2'::text, 'two hashes of one password differ (random salt)');
SELECT is(substr(auth.dummy_password_hash(), 1, 7), substr(:'hash1', 1, 7),
          'the dummy hash has the same algorithm and cost as real hashes (same timing)');

-- auth.password_matches: the right password only, and never more than 72 bytes.
SELECT ok(auth.password_matches('tap02 secret pw', :'hash1'), 'the right password matches');
SELECT ok(auth.password_matches('tap02 secret pw', :'hash2'), 'the right password matches the other salt too');
SELECT ok(NOT auth.password_matches('tap02 secret PW', :'hash1'), 'a wrong password does not match');
SELECT ok(NOT auth.password_matches('', :'hash1'), 'an empty password does not match');
-- (false, never NULL: callers may write NOT password_matches(...).)
SELECT is(auth.password_matches('tap02 secret pw', NULL), false, 'nothing matches a NULL hash');
SELECT is(auth.password_matches(NULL, :'hash1'), false, 'a NULL password matches nothing');
SELECT auth.hash_password(repeat('p', 72)) AS hash72, auth.hash_password(repeat('é', 36)) AS hash_e \gset
SELECT ok(auth.password_matches(repeat('p', 72), :'hash72'), 'a 72-byte password matches');
SELECT ok(ext.crypt(repeat('p', 72) || 'x', :'hash72') = :'hash72',
          '(bcrypt alone would accept a 73-byte candidate sharing the first 72 bytes)');
SELECT ok(NOT auth.password_matches(repeat('p', 72) || 'x', :'hash72'), 'but password_matches refuses it');
SELECT ok(auth.password_matches(repeat('é', 36), :'hash_e'), 'a 36-character, 72-byte password matches');
SELECT ok(NOT auth.password_matches(repeat('é', 37), :'hash_e'),
          'a 37-character, 74-byte candidate does not: the limit counts bytes');

-- auth.check_user_availability: USERNAME, else EMAIL, else OK; case-insensitive.
SELECT is(auth.check_user_availability('TAP02_ALICIA', 'tap02.free@example.com'), 'USERNAME',
          'a taken username (other case) answers USERNAME');
SELECT is(auth.check_user_availability('tap02_free', 'TAP02.ALICE@example.COM'), 'EMAIL',
          'a taken e-mail (other case) answers EMAIL');
SELECT is(auth.check_user_availability('tap02_alicia', 'tap02.alice@example.com'), 'USERNAME',
          'when both are taken, USERNAME wins');
SELECT is(auth.check_user_availability('tap02_free', 'tap02.free@example.com'), 'OK', 'free username and e-mail answer OK');
SELECT is(auth.check_user_availability(NULL, 'tap02.alice@example.com'), 'EMAIL', 'the e-mail alone can be checked');
SELECT is(auth.check_user_availability('tap02_noname', NULL), 'USERNAME', 'the username alone can be checked');
SELECT is(auth.check_user_availability('tap02.alice@example.com', NULL), 'OK',
          'an e-mail is not mistaken for a username');

-- auth.account_problems: {"field": "reason"} per invalid field; NULL arguments are not checked.
SELECT is(auth.account_problems('tap02_ok', 'tap02.ok@example.com', 'long enough', 'Fine Name'), '{}'::jsonb,
          'valid fields have no problems');
SELECT is(auth.account_problems(NULL, NULL, NULL, NULL), '{}'::jsonb, 'NULL fields are not checked');
SELECT is(auth.account_problems('a b', NULL, NULL, NULL),
          '{"username": "must be 3 to 32 letters, digits, \"_\", \".\" or \"-\""}'::jsonb, 'a bad username is reported');
SELECT is(auth.account_problems(NULL, 'no-at.example.com', NULL, NULL),
          '{"email": "must be an e-mail address with one \"@\""}'::jsonb, 'an e-mail without "@" is reported');
SELECT is(auth.account_problems(NULL, repeat('e', 243) || '@example.com', NULL, NULL),
          '{"email": "must be at most 254 characters"}'::jsonb, 'a 255-character e-mail is reported as too long');
SELECT is(auth.account_problems(NULL, NULL, 'seven77', NULL),
          '{"password": "must be at least 8 bytes"}'::jsonb, 'a 7-byte password is too short');
SELECT is(auth.account_problems(NULL, NULL, repeat('é', 37), NULL),
          '{"password": "must be at most 72 bytes"}'::jsonb, 'a 37-character, 74-byte password is too long');
SELECT is(auth.account_problems(NULL, NULL, repeat('é', 36), NULL), '{}'::jsonb, 'a 72-byte password is fine');
SELECT is(auth.account_problems(NULL, NULL, NULL, repeat('d', 65)),
          '{"display_name": "must be at most 64 characters"}'::jsonb, 'a 65-character display_name is reported');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(auth.account_problems('x', 'y', 'z', repeat('d', 65))) k),
          ARRAY['display_name', 'email', 'password', 'username'], 'every problem is reported at once');

-- ============================================================================
-- The account routes (sql/code/api/accounts.sql), called as the gateway role,
-- as the gateway calls them: the request's context first, built by pg_temp.ctx
-- (helpers.psql; the gateway role cannot use schema request, so not
-- request.context). Raised errors are checked by SQLSTATE (and the code in
-- DETAIL); committed failures (response.fail) by the body's $status and code.
-- Inspections of tables run as the superuser (RESET ROLE), since the gateway
-- can read none. (Statements run for their effect end in \gset, which
-- swallows their output.) The logins they need go through api.login (its
-- tests: 03_sessions.sql).
-- ============================================================================
\ir helpers.psql
SET LOCAL ROLE gateway;

-- api.signup: 201 {"account": {...}} with the display_name defaulting to the username.
SELECT api.signup(pg_temp.ctx(), 'Tap02_Amy', 'Tap02.Amy@Example.com', 'amy password 1', NULL) AS amy_signup \gset
SELECT (:'amy_signup'::jsonb #>> '{account,id}') AS amy \gset
SELECT is((SELECT array_agg(k) FROM jsonb_object_keys(:'amy_signup'::jsonb) k), ARRAY['account'],
          'signup returns {"account": ...}');
SELECT is((:'amy_signup'::jsonb -> 'account') - 'id' - 'created_at',
          '{"username": "Tap02_Amy", "display_name": "Tap02_Amy", "email": "Tap02.Amy@Example.com", "role": "user",
            "email_confirmed_at": null, "pending_email": null}'::jsonb,
          'signup returns the account with username and e-mail as spelled, display_name = username, role user, unconfirmed');
SELECT is((SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(:'amy_signup'::jsonb -> 'account') k),
          ARRAY['created_at', 'display_name', 'email', 'email_confirmed_at', 'id', 'pending_email', 'role', 'username'],
          'the account JSON has exactly these keys (no password hash)');
SELECT matches(:'amy_signup'::jsonb #>> '{account,created_at}', '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$',
               'created_at is RFC 3339 in UTC');
SELECT is((:'amy_signup'::jsonb #>> '{account,created_at}')::timestamptz, now(), 'created_at is the signup time');
SELECT is(api.signup(pg_temp.ctx(), 'Tap02_Bob', 'tap02.bob@example.com', 'bob password 1', 'Bob B.')::jsonb #>> '{account,display_name}',
          'Bob B.', 'signup keeps a given display_name');
SELECT is(api.signup(pg_temp.ctx(), 'Tap02_Cat', 'tap02.cat@example.com', 'cat password 1', '')::jsonb #>> '{account,display_name}',
          'Tap02_Cat', 'signup with an empty display_name falls back to the username');
SELECT (api.signup(pg_temp.ctx(), 'Tap02_Dan', 'tap02.dan@example.com', 'dan password 1', NULL)::jsonb #>> '{account,id}') AS dan \gset
SELECT (api.signup(pg_temp.ctx(), 'Tap02_Fay', 'tap02.fay@example.com', 'fay password 1', NULL)::jsonb #>> '{account,id}') AS fay \gset

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
SELECT is(pg_temp.error_of(format('SELECT api.signup(pg_temp.ctx(), %L, %L, %L, NULL)', 'tap02_long', 'tap02.long@example.com', repeat('é', 37)))
            #> '{detail,details}',
          '{"password": "must be at most 72 bytes"}'::jsonb, 'a 37-character, 74-byte password is refused, not truncated');

-- api.signup: 409 USERNAME_TAKEN / EMAIL_TAKEN, ignoring case; committed
-- (response.fail), so that the attempt stays counted per IP.
SELECT is(api.signup(pg_temp.ctx(), 'TAP02_AMY', 'tap02.other@example.com', 'other password', NULL)::jsonb,
          '{"$status": 409, "code": "USERNAME_TAKEN", "message": "that username is taken", "details": null, "hint": null}',
          'a taken username (other case) is a committed 409 USERNAME_TAKEN');
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(), 'TAP02_AMY', 'tap02.other@example.com', 'other password', NULL)$$),
          '409 USERNAME_TAKEN', '... again');
SELECT is(api.signup(pg_temp.ctx(), 'tap02_other', 'TAP02.AMY@EXAMPLE.COM', 'other password', NULL)::jsonb,
          '{"$status": 409, "code": "EMAIL_TAKEN", "message": "that e-mail address is already registered", "details": null, "hint": null}',
          'a taken e-mail (other case) is a committed 409 EMAIL_TAKEN');
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(), 'tap02_other', 'TAP02.AMY@EXAMPLE.COM', 'other password', NULL)$$),
          '409 EMAIL_TAKEN', '... again');

-- api.signup: losing a race to a concurrent signup (simulated by a trigger
-- that inserts the conflicting row after the availability check) is still a 409.
RESET ROLE;
CREATE FUNCTION pg_temp.tap02_race() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.username::text = 'tap02_racer_email' THEN
    INSERT INTO auth.accounts (username, email, password_hash) VALUES ('tap02_winner', NEW.email, NEW.password_hash);
  ELSIF NEW.username::text = 'tap02_racer_name' THEN
    INSERT INTO auth.accounts (username, email, password_hash)
    VALUES (upper(NEW.username::text), 'tap02.winner@example.com', NEW.password_hash);
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER tap02_race BEFORE INSERT ON auth.accounts FOR EACH ROW EXECUTE FUNCTION pg_temp.tap02_race();
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(), 'tap02_racer_email', 'tap02.racer@example.com', 'racer password', NULL)$$),
          '409 EMAIL_TAKEN', 'an e-mail taken between the check and the insert is a committed 409 EMAIL_TAKEN');
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(), 'tap02_racer_name', 'tap02.racer@example.com', 'racer password', NULL)$$),
          '409 USERNAME_TAKEN', 'a username taken between the check and the insert is a committed 409 USERNAME_TAKEN');
RESET ROLE;
DROP TRIGGER tap02_race ON auth.accounts;
SET LOCAL ROLE gateway;

-- api.availability: {"status": "USERNAME" | "EMAIL" | "OK"}, ignoring case; 422 without arguments.
SELECT is(api.availability(pg_temp.ctx(), 'tap02_amy', NULL)::jsonb,
          '{"status": "USERNAME"}', 'a taken username (other case) answers USERNAME');
SELECT is(api.availability(pg_temp.ctx(), NULL, 'TAP02.AMY@EXAMPLE.COM')::jsonb,
          '{"status": "EMAIL"}', 'a taken e-mail (other case) answers EMAIL');
SELECT is(api.availability(pg_temp.ctx(), 'tap02_free', 'tap02.free@example.com')::jsonb, '{"status": "OK"}', 'free ones answer OK');
SELECT is(api.availability(pg_temp.ctx(), 'tap02_racer_email', 'tap02.racer@example.com')::jsonb, '{"status": "OK"}',
          'the raced signups left nothing behind');
SELECT throws_ok($$SELECT api.availability(pg_temp.ctx(), NULL, NULL)$$, 'PT422', 'give a username, an email or both',
                 'availability without arguments raises PT422');

-- api.update_account: display_name at once; a new e-mail only becomes
-- pending_email (its confirmation and notice: tests/sql/18_mail.sql).
SELECT api.login(pg_temp.ctx(browser => 'UA-Amy-8', ip => '203.0.113.5'), 'tap02_amy', 'amy password 1') ->> 'token' AS amy8 \gset
SELECT is(api.update_account(pg_temp.ctx(:'amy8', 'UA-Amy-8'), 'Amy Z.', NULL, NULL)::jsonb #- '{account,created_at}',
          jsonb_build_object('account', jsonb_build_object('id', :amy, 'username', 'Tap02_Amy', 'display_name', 'Amy Z.',
                                                           'email', 'Tap02.Amy@Example.com', 'role', 'user',
                                                           'email_confirmed_at', NULL, 'pending_email', NULL)),
          'update_account changes the display_name and keeps the e-mail');
SELECT is((api.update_account(pg_temp.ctx(:'amy8', 'UA-Amy-8'), NULL, 'Tap02.Amy.New@Example.com', 'amy password 1')::jsonb -> 'account')
            - 'created_at' - 'id',
          '{"username": "Tap02_Amy", "display_name": "Amy Z.", "email": "Tap02.Amy@Example.com", "role": "user",
            "email_confirmed_at": null, "pending_email": "Tap02.Amy.New@Example.com"}'::jsonb,
          'a new e-mail (with the password) becomes pending_email; email and display_name stay');
SELECT is(api.update_account(pg_temp.ctx(:'amy8', 'UA-Amy-8'), '', NULL, NULL) #>> '{account,display_name}', 'Tap02_Amy',
          'an empty display_name falls back to the username');
SELECT is(api.update_account(pg_temp.ctx(:'amy8', 'UA-Amy-8'), NULL, 'TAP02.AMY@example.com', NULL) #>> '{account,email}',
          'TAP02.AMY@example.com', 'another case of one''s own e-mail is taken at once, without the password');
SELECT is(api.availability(pg_temp.ctx(), NULL, 'tap02.amy.new@example.com')::jsonb, '{"status": "OK"}',
          'a pending address is not taken');
SELECT is(pg_temp.failure(format('SELECT api.update_account(pg_temp.ctx(%L, %L), NULL, %L, %L)', :'amy8', 'UA-Amy-8',
                                 'TAP02.BOB@example.com', 'amy password 1')),
          '409 EMAIL_TAKEN', 'another account''s e-mail: a committed 409 EMAIL_TAKEN (the password check counted)');
SELECT is(pg_temp.error_of(format('SELECT api.update_account(pg_temp.ctx(%L, %L), NULL, %L, NULL)', :'amy8', 'UA-Amy-8', 'TAP02.BOB@example.com'))
            #>> '{detail,details,password}', 'required to change the email', 'a new e-mail without the password: 422 naming password');
SELECT throws_ok(format('SELECT api.update_account(pg_temp.ctx(%L, %L), NULL, %L, NULL)', :'amy8', 'UA-Amy-8', 'no-at-sign'),
                 'PT422', 'some fields are invalid', 'a malformed e-mail raises PT422');
SELECT is(pg_temp.error_of(format('SELECT api.update_account(pg_temp.ctx(%L, %L), %L, %L, NULL)', :'amy8', 'UA-Amy-8', repeat('d', 65), 'no-at-sign'))
            #> '{detail,details}',
          '{"email": "must be an e-mail address with one \"@\"", "display_name": "must be at most 64 characters"}'::jsonb,
          'a malformed e-mail and a too long display_name are both reported');
SELECT is((api.current_session(pg_temp.ctx(:'amy8', 'UA-Amy-8'))::jsonb -> 'account') - 'created_at' - 'id',
          '{"username": "Tap02_Amy", "display_name": "Tap02_Amy", "email": "TAP02.AMY@example.com", "role": "user",
            "email_confirmed_at": null, "pending_email": null}'::jsonb,
          'the failed updates changed nothing (and the own address called the pending change off)');

-- api.change_password: a wrong current password is a committed 401 that counts as a failure.
SELECT api.login(pg_temp.ctx(browser => 'UA-Dan-1', ip => '203.0.113.20'), 'tap02_dan', 'dan password 1') ->> 'token' AS dan1 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Dan-2', ip => '203.0.113.21'), 'tap02_dan', 'dan password 1') ->> 'token' AS dan2 \gset
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
          'Tap02_Dan', 'the current session still works');
SELECT is(api.current_session(pg_temp.ctx(:'dan2', 'UA-Dan-2')) ->> 'code', 'INVALID', 'the other session''s token is INVALID');
SELECT is(api.login(pg_temp.ctx(browser => 'UA-Dan-3', ip => '203.0.113.22'), 'tap02_dan', 'dan password 1') ->> 'code',
          'INVALID_CREDENTIALS', 'the old password no longer logs in');
SELECT matches(api.login(pg_temp.ctx(browser => 'UA-Dan-3', ip => '203.0.113.22'), 'tap02_dan', 'dan password 2') ->> 'token',
          '^[A-Za-z0-9_-]{43}$',
               'the new password logs in');

-- api.change_password: 10 attempts an hour (2 so far), then PT429.
SELECT set_config('tap02.dan1', :'dan1', true) AS ignored \gset
DO $$ BEGIN FOR i IN 1..8 LOOP
  PERFORM api.change_password(pg_temp.ctx(current_setting('tap02.dan1'), 'UA-Dan-1', '203.0.113.20'), 'wrong guess', 'dan password 3');
END LOOP; END $$;
SELECT throws_ok(format('SELECT api.change_password(pg_temp.ctx(%L, %L, %L), %L, %L)', :'dan1', 'UA-Dan-1', '203.0.113.20',
                        'dan password 2', 'dan password 3'),
                 'PT429', 'too many attempts; try again later', 'after 10 attempts in an hour change_password raises PT429');

-- api.delete_account: a wrong password is a committed 401; the account and its sessions go.
SELECT api.login(pg_temp.ctx(browser => 'UA-Fay-1', ip => '203.0.113.30'), 'tap02_fay', 'fay password 1') ->> 'token' AS fay1 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-Fay-2', ip => '203.0.113.31'), 'tap02_fay', 'fay password 1') ->> 'token' AS fay2 \gset
SELECT throws_ok(format('SELECT api.delete_account(pg_temp.ctx(%L, %L), NULL)', :'fay1', 'UA-Fay-1'), 'PT422', 'password is required',
                 'delete_account without a password raises PT422');
SELECT is(pg_temp.failure(format('SELECT api.delete_account(pg_temp.ctx(%L, %L, %L), %L)', :'fay1', 'UA-Fay-1', '203.0.113.30', 'not fay password')),
          '401 INVALID_CREDENTIALS', 'a wrong password is a committed 401 INVALID_CREDENTIALS');
SELECT is(api.current_session(pg_temp.ctx(:'fay1', 'UA-Fay-1')) #>> '{account,username}',
          'Tap02_Fay', '... and the account is still there');
SELECT is(pg_temp.failure(format('SELECT api.delete_account(pg_temp.ctx(%L, %L, %L), %L)', :'fay1', 'UA-Fay-1', '203.0.113.30', 'fay password 1')),
          '- -', 'delete_account succeeds with no body and no status');
SELECT is(api.current_session(pg_temp.ctx(:'fay2', 'UA-Fay-2')) ->> 'code', 'INVALID', 'the account''s other session is INVALID');
SELECT is(api.availability(pg_temp.ctx(), 'tap02_fay', 'tap02.fay@example.com')::jsonb,
          '{"status": "OK"}', 'username and e-mail are free again');
RESET ROLE;
SELECT is((SELECT count(*) FROM auth.accounts WHERE id = :fay), 0::bigint, 'the account row is gone');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :fay), 0::bigint, 'its sessions went with it (cascade)');
SELECT is((SELECT failures FROM auth.login_failures WHERE key = 'password_account:account:' || :'fay'), 2,
          'its attempts stay counted until maintenance deletes the stale counter');
SET LOCAL ROLE gateway;
RESET ROLE;

SELECT * FROM finish();
ROLLBACK;
