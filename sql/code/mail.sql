-- ============================================================================
-- mail: one-time tokens, the outbox, and the sender's functions
-- (tables: sql/migrations/014_mail_outbox.sql)
-- ============================================================================
-- A function that causes a mail queues it with mail.enqueue in its own
-- transaction: the row and its NOTIFY exist exactly when the change
-- commits. The sender (gateway/cmd/mailer) logs in as the role mailer,
-- which may execute the functions of schema sender and nothing else
-- (sql/code/install.sql grants them): claim a batch, mark each mail sent or
-- failed, read the counts.

-- ----------------------------------------------------------------------------
-- One-time tokens (auth.one_time_tokens)
-- ----------------------------------------------------------------------------

-- How long a mailed token stays good: a confirmation link a day (mail can
-- sit unread overnight), a reset link an hour (it is as good as the
-- password it replaces), an unsubscribe link 90 days (a periodic mail is
-- often read, or reported as spam, weeks later; all it can do is turn one
-- kind of mail off).
CREATE OR REPLACE FUNCTION auth.token_ttl(purpose text) RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE purpose WHEN 'confirm' THEN interval '24 hours' WHEN 'reset' THEN interval '1 hour'
                    WHEN 'unsubscribe' THEN interval '90 days' END;

-- A fresh token of a purpose for an account and an address, returned raw
-- (the only time it exists outside a mail); only its digest is stored
-- (auth.token_digest, as for sessions). Every older unused token of the same
-- purpose of the account is spent: only the newest link works, so a link
-- from a mail an attacker saw earlier is dead once another was asked for.
CREATE OR REPLACE FUNCTION auth.issue_token(account_id bigint, purpose text, email text) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_token text := auth.new_token();
BEGIN
  UPDATE auth.one_time_tokens t SET used_at = now()
   WHERE t.account_id = issue_token.account_id AND t.purpose = issue_token.purpose AND t.used_at IS NULL;
  INSERT INTO auth.one_time_tokens (purpose, token_digest, account_id, email, expires_at)
  VALUES (issue_token.purpose, auth.token_digest(v_token), issue_token.account_id, issue_token.email::citext,
          now() + auth.token_ttl(issue_token.purpose));
  RETURN v_token;
END
$$;

-- The kinds of periodic mail one-click unsubscribe can turn off, as an
-- outbox row's data names them ("unsubscribe": KIND) and a token stores
-- them (auth.one_time_tokens.unsubscribes): the digests (the preference
-- notification) and the monthly report (report_format).
CREATE OR REPLACE FUNCTION mail.unsubscribe_kinds() RETURNS text[]
LANGUAGE sql IMMUTABLE
RETURN ARRAY['digest', 'report'];

-- A fresh unsubscribe token for one mail of an account, returned raw: it
-- turns `kind` off (api.unsubscribe). Minted by sender.claim for each
-- attempt at a mail whose data asks for one, so the raw token is in no
-- table, ever: only in the claim's answer, the mail and in flight. Older
-- tokens stay good (each mail's link works until it expires); NULL for a
-- kind that is not one of mail.unsubscribe_kinds() or a mail without an
-- account, which the sender then refuses to send.
CREATE OR REPLACE FUNCTION mail.issue_unsubscribe_token(account_id bigint, email text, kind text) RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_token text;
BEGIN
  IF issue_unsubscribe_token.account_id IS NULL OR NOT coalesce(kind = ANY (mail.unsubscribe_kinds()), false) THEN
    RETURN NULL;
  END IF;
  v_token := auth.new_token();
  INSERT INTO auth.one_time_tokens (purpose, token_digest, account_id, email, expires_at, unsubscribes)
  VALUES ('unsubscribe', auth.token_digest(v_token), issue_unsubscribe_token.account_id, email::citext,
          now() + auth.token_ttl('unsubscribe'), kind);
  RETURN v_token;
END
$$;

-- The unused, unexpired token of this purpose, locked for the caller to
-- spend (UPDATE … SET used_at) with the change it allows; NULL (no row)
-- for a token that is unknown, used, replaced, expired or of another
-- purpose: the caller answers all of these with one 400 INVALID_TOKEN. A
-- value much longer than a token (43 characters) is not hashed.
CREATE OR REPLACE FUNCTION auth.take_token(purpose text, token text) RETURNS SETOF auth.one_time_tokens
LANGUAGE sql VOLATILE
BEGIN ATOMIC
  SELECT * FROM auth.one_time_tokens t
   WHERE octet_length(take_token.token) <= 64
     AND t.token_digest = auth.token_digest(take_token.token)
     AND t.purpose = take_token.purpose AND t.used_at IS NULL AND t.expires_at > now()
   FOR UPDATE;
END;

-- The one answer for a token that cannot be used, as a committed failure
-- (response.fail): for a caller whose rate count must stand (api.unsubscribe).
CREATE OR REPLACE FUNCTION auth.invalid_token_answer() RETURNS json
LANGUAGE sql IMMUTABLE
RETURN response.fail(400, 'INVALID_TOKEN', 'the link is not valid: it is unknown, used, replaced or expired',
                     NULL, 'ask for a new one');

-- The same answer, raised.
CREATE OR REPLACE FUNCTION auth.invalid_token() RETURNS void
LANGUAGE sql VOLATILE
BEGIN ATOMIC
  SELECT response.raise(400, f->>'code', f->>'message', NULL, f->>'hint') FROM auth.invalid_token_answer() AS f;
END;

-- ----------------------------------------------------------------------------
-- The outbox (mail.outbox)
-- ----------------------------------------------------------------------------

-- Queues one mail in the caller's transaction and wakes the senders
-- (NOTIFY mail_outbox with the row's id; delivered at commit, not at all on
-- rollback). The same dedupe_key again queues nothing and returns NULL: a
-- run that queues a month's report twice sends it once.
CREATE OR REPLACE FUNCTION mail.enqueue(kind text, account_id bigint, recipient text, data jsonb, dedupe_key text)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_id bigint;
BEGIN
  INSERT INTO mail.outbox (kind, account_id, recipient, data, dedupe_key)
  VALUES (enqueue.kind, enqueue.account_id, enqueue.recipient::citext, coalesce(enqueue.data, '{}'), enqueue.dedupe_key)
  ON CONFLICT ON CONSTRAINT outbox_dedupe_key_key DO NOTHING
  RETURNING id INTO v_id;
  IF v_id IS NOT NULL THEN
    PERFORM pg_notify('mail_outbox', v_id::text);
  END IF;
  RETURN v_id;
END
$$;

-- A confirmation link for an address of an account (the account's own
-- while unconfirmed, or its pending_email), queued as the mail
-- confirm_email: a fresh token (older confirmation links spent), the names
-- the mail greets, and whether it confirms an address change. Returns the
-- outbox row's id.
CREATE OR REPLACE FUNCTION mail.queue_confirmation(a auth.accounts, email text) RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_token text := auth.issue_token(a.id, 'confirm', email);
BEGIN
  RETURN mail.enqueue('confirm_email', a.id, email,
                      jsonb_build_object('token', v_token, 'username', a.username::text, 'display_name', a.display_name,
                                         'change', a.pending_email IS NOT NULL AND a.pending_email = email::citext),
                      'confirm:' || encode(auth.token_digest(v_token), 'hex'));
END
$$;

-- ----------------------------------------------------------------------------
-- Retries
-- ----------------------------------------------------------------------------

-- How many times a mail is tried before the sender gives up on it (a
-- temporary SMTP failure each time); with mail.retry_delay that is about
-- 4 h 15 min of retrying: a mail server down for an afternoon loses nothing.
CREATE OR REPLACE FUNCTION mail.max_attempts() RETURNS integer
LANGUAGE sql IMMUTABLE
RETURN 10;

-- The wait after the n-th failed attempt: 30 s, doubling, at most an hour
-- (30 s, 1, 2, 4, 8, 16, 32 min, then hourly).
CREATE OR REPLACE FUNCTION mail.retry_delay(attempts integer) RETURNS interval
LANGUAGE sql IMMUTABLE
RETURN least(interval '30 seconds' * power(2, greatest(attempts, 1) - 1), interval '1 hour');

-- ----------------------------------------------------------------------------
-- The sender's functions (schema sender: all that the role mailer may call)
-- ----------------------------------------------------------------------------

-- Claims up to batch_size due mails for one sender: each row's attempt is
-- counted and it is leased (available_at moves `lease` ahead, 10 s to 1 h),
-- so no other sender takes it meanwhile; a sender that dies before marking
-- it leaves it to be claimed again when the lease ends (at-least-once: the
-- mail's Message-ID comes from its id, so a repeat is recognisable).
-- SKIP LOCKED: senders claiming at once take different rows, never wait.
-- A periodic mail (data "unsubscribe": KIND) is handed over with a fresh
-- one-click unsubscribe token in its data ("unsubscribe_token",
-- mail.issue_unsubscribe_token), which is not stored in the row: the
-- sender puts it in the List-Unsubscribe header and the footer. Each
-- attempt mints its own; those of attempts that failed were never seen.
CREATE OR REPLACE FUNCTION sender.claim(batch_size integer DEFAULT 10, lease interval DEFAULT interval '5 minutes')
RETURNS TABLE (id bigint, kind text, recipient text, data jsonb, attempt integer, created_at timestamptz)
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
BEGIN ATOMIC
  WITH due AS (
    SELECT o.id FROM mail.outbox o
     WHERE o.sent_at IS NULL AND o.failed_at IS NULL AND o.available_at <= now()
     ORDER BY o.available_at, o.id
     LIMIT least(greatest(coalesce(claim.batch_size, 10), 1), 100)
     FOR UPDATE SKIP LOCKED)
  UPDATE mail.outbox o
     SET attempts = o.attempts + 1,
         available_at = now() + least(greatest(coalesce(claim.lease, interval '5 minutes'), interval '10 seconds'), interval '1 hour')
    FROM due
   WHERE o.id = due.id
  RETURNING o.id, o.kind, o.recipient::text,
            CASE WHEN o.data ? 'unsubscribe'
                 THEN o.data || jsonb_strip_nulls(jsonb_build_object('unsubscribe_token',
                        mail.issue_unsubscribe_token(o.account_id, o.recipient::text, o.data->>'unsubscribe')))
                 ELSE o.data END,
            o.attempts, o.created_at;
END;

-- The SMTP server accepted the mail: it is done, and its row keeps no raw
-- token (data loses "token"). Whichever attempt marks it (unlike
-- sender.mark_failed): an attempt whose lease ended before its mark still
-- had its mail accepted, and marking the row spares a resend by the newer
-- claim if that has not sent yet. True when this call marked it, false
-- when it was already done.
CREATE OR REPLACE FUNCTION sender.mark_sent(id bigint, attempt integer) RETURNS boolean
LANGUAGE sql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
BEGIN ATOMIC
  WITH done AS (
    UPDATE mail.outbox o SET sent_at = now(), data = o.data - 'token', last_error = NULL
     WHERE o.id = mark_sent.id AND o.sent_at IS NULL AND o.failed_at IS NULL
    RETURNING 1)
  SELECT EXISTS (SELECT 1 FROM done);
END;

-- The attempt failed with `error` (the SMTP reply, cut to 1000
-- characters). A temporary failure is tried again after mail.retry_delay;
-- a permanent one (5xx: no such mailbox), or the mail.max_attempts()-th
-- failure, gives up: failed_at set, the token removed from data, and WARN
-- 'mail given up' in the audit log (the row's id, kind, attempts and the
-- error; not the address). Answers 'retry', 'gave up', or 'stale' when
-- the row was not this attempt's any more (marked meanwhile, or claimed
-- again after the lease ended), which changes nothing.
CREATE OR REPLACE FUNCTION sender.mark_failed(id bigint, attempt integer, error text, permanent boolean)
RETURNS text
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v mail.outbox;
  v_error text := left(coalesce(mark_failed.error, 'unknown error'), 1000);
BEGIN
  SELECT * INTO v FROM mail.outbox o
   WHERE o.id = mark_failed.id AND o.attempts = mark_failed.attempt AND o.sent_at IS NULL AND o.failed_at IS NULL
   FOR UPDATE;
  IF NOT FOUND THEN
    RETURN 'stale';
  END IF;
  IF coalesce(permanent, false) OR v.attempts >= mail.max_attempts() THEN
    UPDATE mail.outbox o SET failed_at = now(), last_error = v_error, data = o.data - 'token' WHERE o.id = v.id;
    PERFORM audit.write('WARN', 'mail', 'mail given up', v.account_id,
                        jsonb_build_object('outbox_id', v.id, 'kind', v.kind, 'attempts', v.attempts,
                                           'permanent', coalesce(permanent, false), 'error', left(v_error, 200)));
    RETURN 'gave up';
  END IF;
  UPDATE mail.outbox o SET last_error = v_error, available_at = now() + mail.retry_delay(v.attempts) WHERE o.id = v.id;
  RETURN 'retry';
END
$$;

-- What the sender's /metrics shows of the outbox: mails waiting (due or
-- not, claimed or not), sent, given up, and the age in seconds of the
-- oldest waiting one (0 when none waits).
CREATE OR REPLACE FUNCTION sender.stats(OUT queued bigint, OUT sent bigint, OUT failed bigint, OUT oldest_queued_seconds double precision)
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
BEGIN ATOMIC
  SELECT count(*) FILTER (WHERE o.sent_at IS NULL AND o.failed_at IS NULL),
         count(*) FILTER (WHERE o.sent_at IS NOT NULL),
         count(*) FILTER (WHERE o.failed_at IS NOT NULL),
         coalesce(extract(epoch FROM now() - min(o.created_at) FILTER (WHERE o.sent_at IS NULL AND o.failed_at IS NULL)), 0)::double precision
    FROM mail.outbox o;
END;
