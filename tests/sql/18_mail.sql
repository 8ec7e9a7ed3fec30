-- Mail (sql/code/api/mail.sql, sql/code/mail.sql; tables:
-- sql/migrations/014_mail_outbox.sql): the outbox rows the flows queue, in
-- the transaction of their change and only then; the one-time tokens
-- (digest only, single use, expiry, spent by newer ones and by a reset);
-- confirmation, resending, the address change, password resets and their
-- limits; the sender's functions (claim, lease, mark sent, retry, give up).
-- Privileges (the gateway and the sender role): 00_privileges.sql.
-- Calls run as the superuser with contexts built by pg_temp.ctx (helpers.psql).
-- (Statements run for their effect end in \gset, which swallows their output.)
BEGIN;
SELECT plan(78);
\ir helpers.psql

-- Rows already in the outbox (another test's) are parked for a year, so
-- that the claims below see this file's rows only; rolled back at the end.
UPDATE mail.outbox SET available_at = now() + interval '1 year' WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE FUNCTION pg_temp.outbox(who text) RETURNS SETOF mail.outbox LANGUAGE sql AS $$
  SELECT o.* FROM mail.outbox o JOIN auth.accounts a ON a.id = o.account_id WHERE lower(a.username::text) = lower(who) ORDER BY o.id
$$;

-- ---------------------------------------------------------------------------
-- Sign-up: unconfirmed, one confirmation queued with the account
-- ---------------------------------------------------------------------------
SELECT api.signup(pg_temp.ctx(ip => '198.51.100.18'), 'Tap18_Ann', 'tap18.ann@example.com', 'ann password 1', 'Ann <b>')
  AS ann_signup \gset
SELECT (:'ann_signup'::jsonb #>> '{account,id}')::bigint AS ann \gset
SELECT is(:'ann_signup'::jsonb #> '{account,email_confirmed_at}', 'null'::jsonb, 'a new account is unconfirmed');
SELECT is((SELECT count(*) FROM pg_temp.outbox('tap18_ann')), 1::bigint, 'sign-up queues one mail');
SELECT (SELECT data ->> 'token' FROM pg_temp.outbox('tap18_ann')) AS ann_token \gset
SELECT is((SELECT jsonb_build_object('kind', kind, 'recipient', recipient::text, 'data', data - 'token', 'attempts', attempts)
             FROM pg_temp.outbox('tap18_ann')),
          '{"kind": "confirm_email", "recipient": "tap18.ann@example.com", "attempts": 0,
            "data": {"username": "Tap18_Ann", "display_name": "Ann <b>", "change": false}}'::jsonb,
          '... a confirm_email to the account''s address, with the names its template greets');
SELECT ok(:'ann_token' ~ '^[A-Za-z0-9_-]{43}$', 'the token is 256 bits, base64url (43 characters)');
SELECT is((SELECT dedupe_key FROM pg_temp.outbox('tap18_ann')), 'confirm:' || encode(sha256(convert_to(:'ann_token', 'UTF8')), 'hex'),
          'its dedupe key is the token''s digest');
SELECT is((SELECT jsonb_build_object('purpose', purpose, 'email', email::text, 'used', used_at IS NOT NULL,
                                     'ttl_hours', extract(epoch FROM expires_at - created_at) / 3600, 'digest_only', token_digest = sha256(convert_to(:'ann_token', 'UTF8')))
             FROM auth.one_time_tokens WHERE account_id = :ann),
          '{"purpose": "confirm", "email": "tap18.ann@example.com", "used": false, "ttl_hours": 24, "digest_only": true}'::jsonb,
          'one confirm token for the address, 24 hours, stored as its SHA-256');
SELECT is((SELECT count(*) FROM auth.one_time_tokens t WHERE t.token_digest = convert_to(:'ann_token', 'UTF8')), 0::bigint,
          'the raw token is stored nowhere in the tokens table');

-- A refused sign-up queues nothing: a raise (422) rolls its work back, a
-- committed 409 happens before any account.
SELECT count(*) AS outbox_before FROM mail.outbox \gset
SELECT is(pg_temp.error_of($$SELECT api.signup(pg_temp.ctx(), 'Tap18_Bad', 'no-at-sign', 'bad password 1', NULL)$$) ->> 'sqlstate',
          'PT422', 'a sign-up with a malformed address raises 422');
SELECT is(pg_temp.failure($$SELECT api.signup(pg_temp.ctx(), 'tap18_ann', 'tap18.other@example.com', 'ann password 1', NULL)$$),
          '409 USERNAME_TAKEN', 'a taken username is a committed 409');
SELECT is((SELECT count(*) FROM mail.outbox), :outbox_before::bigint, 'neither queued a mail');

-- ---------------------------------------------------------------------------
-- POST /email-confirmations
-- ---------------------------------------------------------------------------
SELECT is(api.confirm_email(pg_temp.ctx(request_id => 'tap18-confirm'), :'ann_token')::jsonb #>> '{account,username}', 'Tap18_Ann',
          'the token confirms: the account is answered');
SELECT ok((SELECT email_confirmed_at IS NOT NULL FROM auth.accounts WHERE id = :ann), '... email_confirmed_at is set');
SELECT is((SELECT message FROM audit.logs WHERE request_id = 'tap18-confirm'), 'email confirmed', '... logged "email confirmed"');
SELECT throws_ok(format('SELECT api.confirm_email(pg_temp.ctx(), %L)', :'ann_token'), 'PT400',
                 'the link is not valid: it is unknown, used, replaced or expired', 'the same token twice: 400');
SELECT is(pg_temp.error_of(format('SELECT api.confirm_email(pg_temp.ctx(), %L)', :'ann_token')) #>> '{detail,code}', 'INVALID_TOKEN',
          '... INVALID_TOKEN');
SELECT throws_ok($$SELECT api.confirm_email(pg_temp.ctx(), 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')$$, 'PT400', NULL,
                 'an unknown token: 400');
SELECT throws_ok($$SELECT api.confirm_email(pg_temp.ctx(), NULL)$$, 'PT422', 'token is required', 'no token: 422');

-- ---------------------------------------------------------------------------
-- POST /account/email-confirmation (a fresh link)
-- ---------------------------------------------------------------------------
SELECT api.login(pg_temp.ctx(browser => 'UA-18', ip => '198.51.100.18'), 'tap18_ann', 'ann password 1') ->> 'token' AS ann_s \gset
SELECT is(pg_temp.error_of(format('SELECT api.resend_email_confirmation(pg_temp.ctx(%L, %L))', :'ann_s', 'UA-18')) #>> '{detail,code}',
          'CONFLICT', 'a confirmed account with no pending change: 409 CONFLICT');
SELECT api.signup(pg_temp.ctx(ip => '198.51.100.19'), 'Tap18_Bea', 'tap18.bea@example.com', 'bea password 1', NULL) AS ignored \gset
SELECT id AS bea FROM auth.accounts WHERE username = 'Tap18_Bea' \gset
SELECT (SELECT data ->> 'token' FROM pg_temp.outbox('tap18_bea')) AS bea_token1 \gset
SELECT api.login(pg_temp.ctx(browser => 'UA-18', ip => '198.51.100.19'), 'tap18_bea', 'bea password 1') ->> 'token' AS bea_s \gset
SELECT is(api.resend_email_confirmation(pg_temp.ctx(:'bea_s', 'UA-18'))::jsonb, '{"status": "queued"}'::jsonb,
          'an unconfirmed account gets a fresh link');
SELECT is((SELECT array_agg(kind ORDER BY id) FROM pg_temp.outbox('tap18_bea')), ARRAY['confirm_email', 'confirm_email'],
          '... a second confirm_email is queued');
SELECT (SELECT data ->> 'token' FROM pg_temp.outbox('tap18_bea') ORDER BY id DESC LIMIT 1) AS bea_token2 \gset
SELECT is((SELECT count(*) FROM auth.one_time_tokens WHERE account_id = :bea AND used_at IS NULL), 1::bigint,
          '... and the older link is spent');
SELECT throws_ok(format('SELECT api.confirm_email(pg_temp.ctx(), %L)', :'bea_token1'), 'PT400', NULL, 'the older link: 400');
UPDATE auth.one_time_tokens SET expires_at = now() - interval '1 second' WHERE account_id = :bea AND used_at IS NULL;
SELECT throws_ok(format('SELECT api.confirm_email(pg_temp.ctx(), %L)', :'bea_token2'), 'PT400', NULL, 'an expired link: 400');
SELECT ok((SELECT email_confirmed_at IS NULL FROM auth.accounts WHERE id = :bea), 'Bea is still unconfirmed');
SELECT api.resend_email_confirmation(pg_temp.ctx(:'bea_s', 'UA-18')) AS ignored \gset
SELECT api.resend_email_confirmation(pg_temp.ctx(:'bea_s', 'UA-18')) AS ignored \gset
SELECT api.resend_email_confirmation(pg_temp.ctx(:'bea_s', 'UA-18')) AS ignored \gset
SELECT api.resend_email_confirmation(pg_temp.ctx(:'bea_s', 'UA-18')) AS ignored \gset
SELECT is(pg_temp.error_of(format('SELECT api.resend_email_confirmation(pg_temp.ctx(%L, %L))', :'bea_s', 'UA-18')) #>> '{detail,code}',
          'RATE_LIMITED', 'the sixth link within the hour: 429 (confirm_account, 5 an hour)');
SELECT is((SELECT count(*) FROM pg_temp.outbox('tap18_bea')), 6::bigint, '... and no sixth resend was queued');

-- ---------------------------------------------------------------------------
-- POST /password-resets
-- ---------------------------------------------------------------------------
SELECT is(api.request_password_reset(pg_temp.ctx(ip => '198.51.100.20', request_id => 'tap18-reset-known'), 'TAP18.ANN@example.com')::jsonb,
          '{"status": "queued"}'::jsonb, 'a reset for a known address (any case): 202 body');
SELECT is(api.request_password_reset(pg_temp.ctx(ip => '198.51.100.20', request_id => 'tap18-reset-unknown'), 'tap18.nobody@example.com')::jsonb,
          '{"status": "queued"}'::jsonb, '... the same body for an unknown one');
SELECT is((SELECT jsonb_build_object('kind', kind, 'recipient', recipient::text, 'keys', (SELECT array_agg(k ORDER BY k) FROM jsonb_object_keys(data) k))
             FROM pg_temp.outbox('tap18_ann') WHERE kind = 'password_reset'),
          '{"kind": "password_reset", "recipient": "tap18.ann@example.com", "keys": ["display_name", "token", "username"]}'::jsonb,
          'the known address gets a password_reset mail with its token');
SELECT is((SELECT count(*) FROM mail.outbox WHERE recipient = 'tap18.nobody@example.com'), 0::bigint, 'the unknown one gets nothing');
SELECT is((SELECT jsonb_build_object('account_id', account_id, 'details', details) FROM audit.logs WHERE request_id = 'tap18-reset-unknown'),
          '{"account_id": null, "details": {"known": false}}'::jsonb,
          'an unknown address''s request is logged without the address');
SELECT is((SELECT account_id FROM audit.logs WHERE request_id = 'tap18-reset-known' AND message = 'password reset requested'), :ann::bigint,
          'a known one''s with the account');
SELECT is((SELECT expires_at - created_at FROM auth.one_time_tokens WHERE account_id = :ann AND purpose = 'reset'), interval '1 hour',
          'a reset token is good for an hour');
SELECT throws_ok($$SELECT api.request_password_reset(pg_temp.ctx(ip => '198.51.100.20'), 'no-at-sign')$$, 'PT422', NULL,
                 'a malformed address: 422');
-- Five a hour per address, known or not, whatever the IP.
SELECT api.request_password_reset(pg_temp.ctx(ip => '198.51.100.21'), 'tap18.nobody@example.com') AS ignored \gset
SELECT api.request_password_reset(pg_temp.ctx(ip => '198.51.100.22'), 'tap18.nobody@example.com') AS ignored \gset
SELECT api.request_password_reset(pg_temp.ctx(ip => '198.51.100.23'), 'tap18.nobody@example.com') AS ignored \gset
SELECT api.request_password_reset(pg_temp.ctx(ip => '198.51.100.24'), 'tap18.nobody@example.com') AS ignored \gset
SELECT is(pg_temp.error_of($$SELECT api.request_password_reset(pg_temp.ctx(ip => '198.51.100.25'), 'Tap18.Nobody@example.com')$$)
            #>> '{detail,code}', 'RATE_LIMITED', 'the sixth request for one address in an hour: 429, for an unknown address too');
SELECT ok(NOT EXISTS (SELECT 1 FROM auth.login_failures WHERE key LIKE '%nobody%'), 'the counters hold no address');

-- ---------------------------------------------------------------------------
-- PUT /password-resets
-- ---------------------------------------------------------------------------
SELECT (SELECT data ->> 'token' FROM pg_temp.outbox('tap18_ann') WHERE kind = 'password_reset') AS reset_token \gset
SELECT is(pg_temp.error_of(format('SELECT api.reset_password(pg_temp.ctx(), %L, %L)', :'reset_token', 'short')) #> '{detail,details}',
          '{"new_password": "must be at least 8 bytes"}'::jsonb, 'a password against the rules: 422');
SELECT ok((SELECT used_at IS NULL FROM auth.one_time_tokens WHERE account_id = :ann AND purpose = 'reset'),
          '... and the token is not spent');
SELECT is(pg_temp.error_of($$SELECT api.reset_password(pg_temp.ctx(), 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'new password 1')$$)
            #>> '{detail,code}', 'INVALID_TOKEN', 'an unknown token: 400 INVALID_TOKEN');
SELECT is(pg_temp.error_of(format('SELECT api.reset_password(pg_temp.ctx(), %L, %L)', :'ann_token', 'new password 1')) #>> '{detail,code}',
          'INVALID_TOKEN', 'a confirm token is no reset token');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :ann), 1::bigint, 'Ann has a session before the reset');
SELECT is(api.reset_password(pg_temp.ctx(ip => '198.51.100.26', request_id => 'tap18-reset'), :'reset_token', 'ann password 2')::text, NULL,
          'the reset token sets a new password (204)');
SELECT ok(auth.password_matches('ann password 2', (SELECT password_hash FROM auth.accounts WHERE id = :ann)), '... the new password works');
SELECT is((SELECT count(*) FROM auth.account_sessions WHERE account_id = :ann), 0::bigint, '... every session of the account is deleted');
SELECT is((SELECT count(*) FROM auth.one_time_tokens WHERE account_id = :ann AND purpose = 'reset' AND used_at IS NULL), 0::bigint,
          '... every reset token of the account is spent');
SELECT is((SELECT details FROM audit.logs WHERE request_id = 'tap18-reset'), '{"sessions_revoked": 1}'::jsonb,
          '... logged "password reset" with the sessions it ended');
SELECT is(pg_temp.error_of(format('SELECT api.reset_password(pg_temp.ctx(), %L, %L)', :'reset_token', 'ann password 3')) #>> '{detail,code}',
          'INVALID_TOKEN', 'the same reset token twice: 400');
SELECT api.request_password_reset(pg_temp.ctx(ip => '198.51.100.27'), 'tap18.bea@example.com') AS ignored \gset
SELECT (SELECT data ->> 'token' FROM pg_temp.outbox('tap18_bea') WHERE kind = 'password_reset') AS bea_reset \gset
UPDATE auth.one_time_tokens SET expires_at = now() - interval '1 second' WHERE account_id = :bea AND purpose = 'reset';
SELECT is(pg_temp.error_of(format('SELECT api.reset_password(pg_temp.ctx(), %L, %L)', :'bea_reset', 'bea password 2')) #>> '{detail,code}',
          'INVALID_TOKEN', 'an expired reset token (past its hour): 400');

-- ---------------------------------------------------------------------------
-- PATCH /account {email, password}: the address change
-- ---------------------------------------------------------------------------
SELECT api.login(pg_temp.ctx(browser => 'UA-18', ip => '198.51.100.18'), 'tap18_ann', 'ann password 2') ->> 'token' AS ann_s \gset
SELECT is(pg_temp.failure(format('SELECT api.update_account(pg_temp.ctx(%L, %L), NULL, %L, %L)', :'ann_s', 'UA-18',
                                 'tap18.ann.new@example.com', 'wrong password')),
          '401 INVALID_CREDENTIALS', 'a wrong password: a committed 401');
SELECT is(api.update_account(pg_temp.ctx(:'ann_s', 'UA-18'), NULL, 'tap18.ann.new@example.com', 'ann password 2') #>> '{account,pending_email}',
          'tap18.ann.new@example.com', 'with the password, the new address is pending');
SELECT is((SELECT array_agg(jsonb_build_object('kind', kind, 'to', recipient::text, 'change', data -> 'change', 'new_email', data -> 'new_email') ORDER BY id)
             FROM pg_temp.outbox('tap18_ann') WHERE id > (SELECT max(id) FROM pg_temp.outbox('tap18_ann') WHERE kind = 'password_reset')),
          ARRAY['{"kind": "confirm_email", "to": "tap18.ann.new@example.com", "change": true, "new_email": null}'::jsonb,
                '{"kind": "email_change_notice", "to": "tap18.ann@example.com", "change": null, "new_email": "tap18.ann.new@example.com"}'::jsonb],
          'a confirmation link goes to the new address, a notice to the old one');
SELECT (SELECT data ->> 'token' FROM pg_temp.outbox('tap18_ann') WHERE kind = 'confirm_email' ORDER BY id DESC LIMIT 1) AS change_token \gset
SELECT is((api.confirm_email(pg_temp.ctx(), :'change_token')::jsonb -> 'account') - 'id' - 'created_at' - 'email_confirmed_at' - 'display_name',
          '{"username": "Tap18_Ann", "email": "tap18.ann.new@example.com", "pending_email": null, "role": "user"}'::jsonb,
          'following the link makes the pending address the account''s');
-- The new address taken meanwhile: 409 at confirmation, and nothing changes.
SELECT api.update_account(pg_temp.ctx(:'ann_s', 'UA-18'), NULL, 'tap18.race@example.com', 'ann password 2') AS ignored \gset
SELECT (SELECT data ->> 'token' FROM pg_temp.outbox('tap18_ann') WHERE kind = 'confirm_email' ORDER BY id DESC LIMIT 1) AS race_token \gset
INSERT INTO auth.accounts (username, email, password_hash) VALUES ('tap18_racer', 'Tap18.Race@example.com', auth.dummy_password_hash());
SELECT is(pg_temp.error_of(format('SELECT api.confirm_email(pg_temp.ctx(), %L)', :'race_token')) #>> '{detail,code}', 'EMAIL_TAKEN',
          'the pending address taken by another account meanwhile: 409 EMAIL_TAKEN');
SELECT is((SELECT email::text FROM auth.accounts WHERE id = :ann), 'tap18.ann.new@example.com', '... and the address stays');

-- ---------------------------------------------------------------------------
-- The sender's functions
-- ---------------------------------------------------------------------------
SELECT count(*) AS due FROM mail.outbox WHERE sent_at IS NULL AND failed_at IS NULL AND available_at <= now() \gset
SELECT cmp_ok(:due::bigint, '>=', 10::bigint, 'this file queued a dozen mails');
CREATE TEMPORARY TABLE claimed AS SELECT * FROM sender.claim(3, interval '1 minute');
SELECT is((SELECT count(*) FROM claimed), 3::bigint, 'claim takes a batch of the asked size');
SELECT is((SELECT array_agg(DISTINCT attempt) FROM claimed), ARRAY[1], '... each row''s first attempt');
SELECT ok((SELECT bool_and(o.available_at BETWEEN now() + interval '59 seconds' AND now() + interval '61 seconds')
             FROM mail.outbox o JOIN claimed c USING (id)), '... leased for the asked minute');
SELECT is((SELECT count(*) FROM sender.claim(100) s JOIN claimed c USING (id)), 0::bigint,
          'a second claim does not take leased rows');
SELECT min(id) AS c1, max(id) AS c3 FROM claimed \gset
SELECT ok(sender.mark_sent(:c1, 1), 'mark_sent marks the claimed attempt');
SELECT is((SELECT jsonb_build_object('sent', sent_at IS NOT NULL, 'token', data ? 'token') FROM mail.outbox WHERE id = :c1),
          '{"sent": true, "token": false}'::jsonb, '... and the row keeps no raw token');
SELECT ok(NOT sender.mark_sent(:c1, 1), 'marking it again changes nothing');
SELECT is(sender.mark_failed(:c3, 7, '451 later', false), 'stale', 'a failure of another attempt is stale');
SELECT is(sender.mark_failed(:c3, 1, '451 4.3.0 try later', false), 'retry', 'a temporary failure: retry');
SELECT is((SELECT jsonb_build_object('error', last_error, 'wait', available_at - now()) FROM mail.outbox WHERE id = :c3),
          '{"error": "451 4.3.0 try later", "wait": "00:00:30"}'::jsonb, '... after 30 seconds, with its error');
SELECT is(ARRAY[mail.retry_delay(1), mail.retry_delay(2), mail.retry_delay(5), mail.retry_delay(9)],
          ARRAY[interval '30 seconds', interval '1 minute', interval '8 minutes', interval '1 hour'],
          'the backoff doubles from 30 seconds up to an hour');
UPDATE mail.outbox SET attempts = mail.max_attempts() - 1, available_at = now() WHERE id = :c3;
SELECT is((SELECT attempt FROM sender.claim(100) WHERE id = :c3), mail.max_attempts(), 'the last attempt is claimed');
SELECT is(sender.mark_failed(:c3, mail.max_attempts(), '451 still later', false), 'gave up', '... and its failure gives up');
SELECT is((SELECT jsonb_build_object('failed', failed_at IS NOT NULL, 'token', data ? 'token') FROM mail.outbox WHERE id = :c3),
          '{"failed": true, "token": false}'::jsonb, '... the row is failed and keeps no token');
SELECT is((SELECT jsonb_build_object('level', level, 'source', source, 'details', details - 'error') FROM audit.logs
            WHERE message = 'mail given up' AND (details ->> 'outbox_id')::bigint = :c3),
          jsonb_build_object('level', 'WARN', 'source', 'mail',
                             'details', jsonb_build_object('outbox_id', :c3, 'kind', (SELECT kind FROM mail.outbox WHERE id = :c3),
                                                           'attempts', mail.max_attempts(), 'permanent', false)),
          '... logged WARN "mail given up"');
SELECT (SELECT id FROM claimed WHERE id NOT IN (:c1, :c3)) AS c2 \gset
SELECT is(sender.mark_failed(:c2, 1, '550 5.1.1 no such mailbox', true), 'gave up', 'a permanent failure gives up at once');
SELECT is((SELECT count(*) FROM sender.claim(100) WHERE id IN (:c1, :c2, :c3)), 0::bigint, 'sent and failed rows are never claimed again');
SELECT is((SELECT failed >= 2 AND queued >= 1 AND oldest_queued_seconds >= 0 FROM sender.stats()), true,
          'stats counts the failed and the waiting mails');

-- ---------------------------------------------------------------------------
-- Maintenance: old tokens and old mail go
-- ---------------------------------------------------------------------------
UPDATE auth.one_time_tokens SET expires_at = now() - interval '25 hours' WHERE account_id = :bea;
SELECT count(*) AS bea_tokens FROM auth.one_time_tokens WHERE account_id = :bea \gset
SELECT is((api.maintenance('old_tokens')::jsonb ->> 'deleted')::bigint >= :bea_tokens::bigint, true,
          'old_tokens deletes the tokens a day past their expiry');
SELECT is((SELECT count(*) FROM auth.one_time_tokens WHERE account_id = :bea), 0::bigint, '... Bea''s are gone');
SELECT ok(EXISTS (SELECT 1 FROM auth.one_time_tokens WHERE account_id = :ann AND expires_at > now()), '... fresher ones stay');
UPDATE mail.outbox SET sent_at = now() - interval '31 days' WHERE id = :c1;
SELECT is((api.maintenance('old_mail', 1)::jsonb ->> 'deleted')::int, 1, 'old_mail deletes mail sent more than 30 days ago');
SELECT ok(NOT EXISTS (SELECT 1 FROM mail.outbox WHERE id = :c1) AND EXISTS (SELECT 1 FROM mail.outbox WHERE id = :c2),
          '... that row, not one given up today');

SELECT * FROM finish();
ROLLBACK;
