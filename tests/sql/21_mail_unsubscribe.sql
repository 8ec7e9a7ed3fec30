-- One-click unsubscribe (RFC 8058; sql/code/mail.sql: sender.claim mints
-- the token of a periodic mail, mail.issue_unsubscribe_token; sql/code/api/mail.sql:
-- api.unsubscribe; migration 017): the token handed to the sender is in no
-- table, only its digest, with the kind it turns off; the POST turns that
-- kind off, again is still a success, a forged or other token is 400,
-- a wrong body 422, the limit per client IP; the audit log has no token;
-- the gateway may call the route's function but not read tokens.
-- Calls run as the superuser with contexts built by pg_temp.ctx (helpers.psql).
BEGIN;
SELECT plan(33);
\ir helpers.psql

-- Rows already in the outbox (another test's) are parked for a year, so
-- that the claims below see this file's rows only; rolled back at the end.
UPDATE mail.outbox SET available_at = now() + interval '1 year' WHERE sent_at IS NULL AND failed_at IS NULL;

SELECT (api.signup(pg_temp.ctx(ip => '198.51.100.21'), 'Tap21_Ann', 'tap21.ann@example.com', 'unsub password 1', 'Ann')::jsonb
        #>> '{account,id}')::bigint AS ann \gset
INSERT INTO tracking.preferences (account_id, notification, report_format) VALUES (:ann, 'daily', 'pdf');
UPDATE mail.outbox SET available_at = now() + interval '1 year' WHERE account_id = :ann; -- the confirmation
SELECT mail.enqueue('digest', :ann, 'tap21.ann@example.com', '{"period": "daily", "unsubscribe": "digest"}', 'tap21:digest') AS digest_id,
       mail.enqueue('report_test', :ann, 'tap21.ann@example.com', '{"unsubscribe": "report"}', 'tap21:report') AS report_id,
       mail.enqueue('digest', :ann, 'tap21.ann@example.com', '{"unsubscribe": "everything"}', 'tap21:bogus') AS bogus_id,
       mail.enqueue('digest', :ann, 'tap21.ann@example.com', '{"period": "daily", "unsubscribe": "digest"}', 'tap21:digest2') AS digest2_id
\gset

-- ---------------------------------------------------------------------------
-- The token: minted at claim, handed to the sender, stored as its digest
-- ---------------------------------------------------------------------------
CREATE TEMPORARY TABLE claimed AS SELECT * FROM sender.claim(10);
SELECT is((SELECT count(*) FROM claimed), 4::bigint, 'the sender claims the four mails');
SELECT data ->> 'unsubscribe_token' AS tok FROM claimed WHERE id = :digest_id \gset
SELECT data ->> 'unsubscribe_token' AS report_tok FROM claimed WHERE id = :report_id \gset
SELECT data ->> 'unsubscribe_token' AS tok2 FROM claimed WHERE id = :digest2_id \gset
SELECT ok(:'tok' ~ '^[A-Za-z0-9_-]{43}$', 'a digest is handed over with an unsubscribe token of 256 bits, base64url');
SELECT isnt(:'tok'::text, :'tok2'::text, '... each mail its own');
SELECT is((SELECT data FROM claimed WHERE id = :bogus_id), '{"unsubscribe": "everything"}'::jsonb,
          'an unknown kind gets no token (the sender then refuses the mail)');
SELECT is((SELECT jsonb_build_object('purpose', purpose, 'unsubscribes', unsubscribes, 'email', email::text,
                                     'ttl_days', extract(epoch FROM expires_at - created_at) / 86400, 'used', used_at IS NOT NULL)
             FROM auth.one_time_tokens WHERE token_digest = sha256(convert_to(:'tok', 'UTF8'))),
          '{"purpose": "unsubscribe", "unsubscribes": "digest", "email": "tap21.ann@example.com", "ttl_days": 90, "used": false}'::jsonb,
          'its SHA-256 is stored, with the kind it turns off and 90 days to live');
SELECT is((SELECT unsubscribes FROM auth.one_time_tokens WHERE token_digest = sha256(convert_to(:'report_tok', 'UTF8'))), 'report',
          'a report''s token turns the report off');
SELECT is((SELECT count(*) FROM mail.outbox WHERE data::text LIKE '%' || :'tok' || '%'), 0::bigint,
          'the raw token is in no outbox row (only in the claim''s answer)');
SELECT is((SELECT count(*) FROM auth.one_time_tokens WHERE token_digest = convert_to(:'tok', 'UTF8')
             OR encode(token_digest, 'escape') LIKE '%' || :'tok' || '%'), 0::bigint, '... nor in the tokens table');
SELECT ok(sender.mark_sent(:digest_id, 1), 'the digest is marked sent');
SELECT is((SELECT data FROM mail.outbox WHERE id = :digest_id), '{"period": "daily", "unsubscribe": "digest"}'::jsonb,
          '... its row holds what it held, no token');

-- ---------------------------------------------------------------------------
-- POST /unsubscribe, as the gateway calls it
-- ---------------------------------------------------------------------------
SET LOCAL ROLE gateway;
SELECT is(pg_temp.error_of($$SELECT api.unsubscribe(pg_temp.ctx(ip => '192.0.2.21'), 'x', 'Yes')$$) #>> '{detail,details,List-Unsubscribe}',
          'must be One-Click', 'a body other than List-Unsubscribe=One-Click is a 422 naming the field');
SELECT is(pg_temp.error_of($$SELECT api.unsubscribe(pg_temp.ctx(ip => '192.0.2.21'), 'x', NULL)$$) ->> 'sqlstate', 'PT422',
          '... as is no body');
SELECT is(pg_temp.failure($$SELECT api.unsubscribe(pg_temp.ctx(ip => '192.0.2.21'), 'forged-token-forged-token-forged-token-xxxx', 'One-Click')$$),
          '400 INVALID_TOKEN', 'a forged token is a committed 400 INVALID_TOKEN');
SELECT is(pg_temp.failure($$SELECT api.unsubscribe(pg_temp.ctx(ip => '192.0.2.21'), NULL, 'One-Click')$$),
          '400 INVALID_TOKEN', '... as is none');
SELECT is(pg_temp.failure(format('SELECT api.unsubscribe(pg_temp.ctx(ip => %L), %L, %L)', '192.0.2.21', :'tok' || 'x', 'One-Click')),
          '400 INVALID_TOKEN', '... and a token with a character more');
SELECT is(api.unsubscribe(pg_temp.ctx(ip => '192.0.2.21', request_id => 'tap21-unsub'), :'tok', 'One-Click')::jsonb,
          '{"status": "unsubscribed", "kind": "digest"}'::jsonb, 'the digest''s token unsubscribes from the digests');
RESET ROLE;
SELECT is((SELECT notification || ' ' || report_format FROM tracking.preferences WHERE account_id = :ann), 'none pdf',
          '... notification is none; the report stays');
SELECT is((SELECT jsonb_build_object('level', level, 'source', source, 'details', details, 'request_id', request_id)
             FROM audit.logs WHERE account_id = :ann AND message = 'unsubscribed'),
          '{"level": "INFO", "source": "mail", "details": {"kind": "digest"}, "request_id": "tap21-unsub"}'::jsonb,
          '... logged, with the kind');
SELECT is((SELECT count(*) FROM audit.logs WHERE details::text LIKE '%' || :'tok' || '%'), 0::bigint, '... and nowhere the token');
SET LOCAL ROLE gateway;
SELECT is(api.unsubscribe(pg_temp.ctx(ip => '192.0.2.21'), :'tok', 'One-Click')::jsonb ->> 'status', 'unsubscribed',
          'the same token again: still a success (a provider may post twice)');
RESET ROLE;
SELECT is((SELECT count(*) FROM audit.logs WHERE account_id = :ann AND message = 'unsubscribed'), 1::bigint, '... which changes nothing');

-- Turned back on: the used token is spent; another mail's token still works.
UPDATE tracking.preferences SET notification = 'daily' WHERE account_id = :ann;
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure(format('SELECT api.unsubscribe(pg_temp.ctx(ip => %L), %L, %L)', '192.0.2.21', :'tok', 'One-Click')),
          '400 INVALID_TOKEN', 'once the digests are back on, a used token is spent');
SELECT is(api.unsubscribe(pg_temp.ctx(ip => '192.0.2.21'), :'tok2', 'One-Click')::jsonb ->> 'kind', 'digest',
          '... while another mail''s token still turns them off');
SELECT is(api.unsubscribe(pg_temp.ctx(ip => '192.0.2.21'), :'report_tok', 'One-Click')::jsonb ->> 'kind', 'report',
          'a report''s token…');
RESET ROLE;
SELECT is((SELECT notification || ' ' || report_format FROM tracking.preferences WHERE account_id = :ann), 'none none',
          '... turns the report off');

-- Other tokens do not unsubscribe; expired ones neither.
SELECT auth.issue_token(:ann, 'reset', 'tap21.ann@example.com') AS reset_tok \gset
SELECT mail.issue_unsubscribe_token(:ann, 'tap21.ann@example.com', 'digest') AS old_tok \gset
UPDATE auth.one_time_tokens SET expires_at = now() - interval '1 second' WHERE token_digest = sha256(convert_to(:'old_tok', 'UTF8'));
SET LOCAL ROLE gateway;
SELECT is(pg_temp.failure(format('SELECT api.unsubscribe(pg_temp.ctx(ip => %L), %L, %L)', '192.0.2.21', :'reset_tok', 'One-Click')),
          '400 INVALID_TOKEN', 'a reset token does not unsubscribe');
SELECT is(pg_temp.failure(format('SELECT api.unsubscribe(pg_temp.ctx(ip => %L), %L, %L)', '192.0.2.21', :'old_tok', 'One-Click')),
          '400 INVALID_TOKEN', 'an expired unsubscribe token is refused');
RESET ROLE;

-- An account without preferences (the defaults) gets its row, the kind off.
SELECT (api.signup(pg_temp.ctx(ip => '198.51.100.21'), 'Tap21_Bob', 'tap21.bob@example.com', 'unsub password 1', NULL)::jsonb
        #>> '{account,id}')::bigint AS bob \gset
SELECT mail.issue_unsubscribe_token(:bob, 'tap21.bob@example.com', 'report') AS bob_tok \gset
SET LOCAL ROLE gateway;
SELECT api.unsubscribe(pg_temp.ctx(ip => '192.0.2.22'), :'bob_tok', 'One-Click') \gset
RESET ROLE;
SELECT is(tracking.preferences_json(:bob)::jsonb, '{"notification": "weekly", "report_format": "none", "timezone": "UTC"}'::jsonb,
          'without preferences: the defaults, the report off');

-- ---------------------------------------------------------------------------
-- The limit per client IP; forged tokens count
-- ---------------------------------------------------------------------------
UPDATE auth.rate_limits SET max_hits = 2 WHERE name = 'unsubscribe_ip';
SET LOCAL ROLE gateway;
SELECT pg_temp.failure($$SELECT api.unsubscribe(pg_temp.ctx(ip => '192.0.2.23'), 'forged-1', 'One-Click')$$) AS f1,
       pg_temp.failure($$SELECT api.unsubscribe(pg_temp.ctx(ip => '192.0.2.23'), 'forged-2', 'One-Click')$$) AS f2 \gset
SELECT is(pg_temp.error_of($$SELECT api.unsubscribe(pg_temp.ctx(ip => '192.0.2.23'), 'forged-3', 'One-Click')$$) ->> 'sqlstate',
          'PT429', 'past the limit per client IP (forged tokens counted): 429');
SELECT is(pg_temp.failure($$SELECT api.unsubscribe(pg_temp.ctx(ip => '192.0.2.24'), 'forged-4', 'One-Click')$$),
          '400 INVALID_TOKEN', '... for that IP only');

-- ---------------------------------------------------------------------------
-- Privileges
-- ---------------------------------------------------------------------------
SELECT throws_ok($$SELECT count(*) FROM auth.one_time_tokens$$, '42501', NULL, 'the gateway cannot read the tokens');
SELECT throws_ok(format('SELECT mail.issue_unsubscribe_token(%s, %L, %L)', :ann, 'x@example.com', 'digest'), '42501', NULL,
                 '... nor mint one');
RESET ROLE;
SELECT ok(NOT has_schema_privilege('mailer', 'mail', 'USAGE') AND NOT has_schema_privilege('mailer', 'api', 'USAGE'),
          'the sender mints tokens only by claiming a mail, and cannot unsubscribe anyone');

SELECT * FROM finish();
ROLLBACK;
