-- Accounts (the table and its display_name trigger: sql/migrations/002_auth.sql;
-- the functions: sql/code/auth.sql): table constraints, the display_name
-- trigger, password hashing, availability and validation.
BEGIN;
SELECT plan(62);

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

SELECT * FROM finish();
ROLLBACK;
