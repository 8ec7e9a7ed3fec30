-- ============================================================================
-- api: mail (/email-confirmations, /account/email-confirmation, /password-resets)
-- ============================================================================
-- Conventions as in sessions.sql. The links of the mails open pages of the
-- web client, which post the token here: nothing acts on a GET (mail
-- scanners fetch links before people do). Every token answer that is not
-- a success is the same 400 INVALID_TOKEN (auth.invalid_token).

-- POST /email-confirmations {token} : 200 {"account"}. A confirmation link
-- of the account's own address sets email_confirmed_at; one of its
-- pending_email makes that the address (confirmed now), unless another
-- account has taken it meanwhile (409 EMAIL_TAKEN, and the link stays good
-- until it expires). The account's confirmation links are spent. Logs INFO
-- 'email confirmed' or 'email changed' (no address). No session needed: the
-- token is the proof, and 256 random bits are not guessed.
CREATE OR REPLACE FUNCTION api.confirm_email(ctx request.context, token text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_token auth.one_time_tokens;
  v_account auth.accounts;
BEGIN
  IF token IS NULL THEN
    PERFORM response.raise(422, 'VALIDATION', 'token is required', '{"token": "required"}');
  END IF;
  SELECT * INTO v_token FROM auth.take_token('confirm', token);
  IF v_token.id IS NULL THEN PERFORM auth.invalid_token(); END IF;
  SELECT * INTO v_account FROM auth.accounts a WHERE a.id = v_token.account_id FOR UPDATE;

  IF v_account.pending_email IS NOT NULL AND v_token.email = v_account.pending_email THEN
    IF EXISTS (SELECT 1 FROM auth.accounts a WHERE a.email = v_token.email AND a.id <> v_account.id) THEN
      PERFORM response.raise(409, 'EMAIL_TAKEN', 'that e-mail address has been registered by another account meanwhile',
                             NULL, 'change the address again to another one');
    END IF;
    BEGIN
      UPDATE auth.accounts a SET email = v_token.email, pending_email = NULL, email_confirmed_at = now()
       WHERE a.id = v_account.id
      RETURNING * INTO v_account;
    EXCEPTION WHEN unique_violation THEN
      PERFORM response.raise(409, 'EMAIL_TAKEN', 'that e-mail address has been registered by another account meanwhile');
    END;
    PERFORM audit.write('INFO', 'auth', 'email changed', v_account.id, '{}', ctx);
  ELSIF v_token.email = v_account.email THEN
    UPDATE auth.accounts a SET email_confirmed_at = coalesce(a.email_confirmed_at, now())
     WHERE a.id = v_account.id
    RETURNING * INTO v_account;
    PERFORM audit.write('INFO', 'auth', 'email confirmed', v_account.id, '{}', ctx);
  ELSE
    -- A link to an address the account no longer has nor waits for.
    PERFORM auth.invalid_token();
  END IF;
  UPDATE auth.one_time_tokens t SET used_at = now()
   WHERE t.account_id = v_account.id AND t.purpose = 'confirm' AND t.used_at IS NULL;
  RETURN json_build_object('account', auth.account_json(v_account));
END
$$;

-- POST /account/email-confirmation : 202. A fresh confirmation link to the
-- address that waits for one (pending_email if an address change waits,
-- else the account's own while unconfirmed), the older links spent; 409
-- CONFLICT when nothing waits. Limited per account (auth.rate_limits
-- 'confirm_account'; 429 past it): each call is a mail.
CREATE OR REPLACE FUNCTION api.resend_email_confirmation(ctx request.context)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_account auth.accounts;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  SELECT * INTO v_account FROM auth.accounts a WHERE a.id = v_session.account_id FOR UPDATE;
  IF v_account.pending_email IS NULL AND v_account.email_confirmed_at IS NOT NULL THEN
    PERFORM response.raise(409, 'CONFLICT', 'the address is confirmed and no address change waits');
  END IF;
  PERFORM auth.rate_count(ARRAY[auth.rate_key('confirm_account', auth.login_subject(v_account.id, NULL))]);
  PERFORM mail.queue_confirmation(v_account, coalesce(v_account.pending_email, v_account.email)::text);
  PERFORM audit.write('INFO', 'auth', 'email confirmation requested', v_account.id,
                      jsonb_build_object('change', v_account.pending_email IS NOT NULL), ctx);
  RETURN json_build_object('status', 'queued');
END
$$;

-- The subject of the per-address reset limit: a digest of the lowercased
-- address, known or not, so that the 429 says nothing about the address
-- and the counters hold no address.
CREATE OR REPLACE FUNCTION auth.email_subject(email text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 'email:' || encode(sha256(convert_to(lower(coalesce(email, '')), 'UTF8')), 'hex');

-- POST /password-resets {email} : 202 {"status": "queued"}, the same whether
-- or not an enabled account has the address (the mail is queued, never
-- sent here, so the time differs by an insert, not by an SMTP exchange).
-- Counted per address (auth.email_subject, 'reset_email': 5 an hour, which
-- also caps the reset mails one address gets) and per client IP
-- ('reset_ip') before the lookup; 429 past either. For an account: a reset
-- link valid an hour (older ones spent), mailed as password_reset. Logs
-- INFO 'password reset requested', with the account when there is one and
-- nothing of the address when there is none.
CREATE OR REPLACE FUNCTION api.request_password_reset(ctx request.context, email text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_problems jsonb;
  v_account auth.accounts;
  v_token text;
BEGIN
  v_problems := jsonb_strip_nulls(jsonb_build_object('email', CASE WHEN request_password_reset.email IS NULL THEN 'required' END))
                || auth.account_problems(NULL, request_password_reset.email, NULL, NULL);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;
  PERFORM auth.rate_count(ARRAY[auth.rate_key('reset_email', auth.email_subject(request_password_reset.email)),
                                auth.rate_key('reset_ip', auth.ip_subject(ctx.ip))]);

  SELECT * INTO v_account FROM auth.accounts a
   WHERE a.email = request_password_reset.email::citext AND a.disabled_at IS NULL;
  IF FOUND THEN
    v_token := auth.issue_token(v_account.id, 'reset', v_account.email::text);
    PERFORM mail.enqueue('password_reset', v_account.id, v_account.email::text,
                         jsonb_build_object('token', v_token, 'username', v_account.username::text,
                                            'display_name', v_account.display_name),
                         'reset:' || encode(auth.token_digest(v_token), 'hex'));
  END IF;
  PERFORM audit.write('INFO', 'auth', 'password reset requested', v_account.id,
                      jsonb_build_object('known', v_account.id IS NOT NULL), ctx);
  RETURN json_build_object('status', 'queued');
END
$$;

-- PUT /password-resets {token, new_password} : 204. The password rules
-- first (422, and the token is not spent); then the token (400
-- INVALID_TOKEN: unknown, used, replaced, expired, or sent to an address the
-- account no longer has, or the account is disabled); then, counted per
-- client IP as every bcrypt is ('bcrypt_ip'), the new password, every
-- session of the account deleted and every reset link of it spent. The
-- link came to the account's address, so that address counts as confirmed.
-- Logs INFO 'password reset' with the number of sessions ended.
CREATE OR REPLACE FUNCTION api.reset_password(ctx request.context, token text, new_password text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_problems jsonb;
  v_token auth.one_time_tokens;
  v_account auth.accounts;
  v_count integer;
BEGIN
  v_problems := jsonb_strip_nulls(jsonb_build_object(
                  'token', CASE WHEN reset_password.token IS NULL THEN 'required' END,
                  'new_password', CASE WHEN reset_password.new_password IS NULL THEN 'required' END))
                || coalesce((SELECT jsonb_object_agg('new_password', p.value)
                               FROM jsonb_each(auth.account_problems(NULL, NULL, reset_password.new_password, NULL)) p), '{}');
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  SELECT * INTO v_token FROM auth.take_token('reset', reset_password.token);
  IF v_token.id IS NULL THEN PERFORM auth.invalid_token(); END IF;
  SELECT * INTO v_account FROM auth.accounts a WHERE a.id = v_token.account_id FOR UPDATE;
  IF v_account.disabled_at IS NOT NULL OR v_account.email <> v_token.email THEN PERFORM auth.invalid_token(); END IF;

  PERFORM auth.rate_count(ARRAY[auth.rate_key('bcrypt_ip', auth.ip_subject(ctx.ip))]);
  UPDATE auth.accounts a
     SET password_hash = auth.hash_password(reset_password.new_password),
         email_confirmed_at = coalesce(a.email_confirmed_at, now())
   WHERE a.id = v_account.id;
  DELETE FROM auth.account_sessions s WHERE s.account_id = v_account.id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  UPDATE auth.one_time_tokens t SET used_at = now()
   WHERE t.account_id = v_account.id AND t.purpose = 'reset' AND t.used_at IS NULL;
  PERFORM audit.write('INFO', 'auth', 'password reset', v_account.id,
                      jsonb_build_object('sessions_revoked', v_count), ctx);
  RETURN NULL;
END
$$;

-- POST /unsubscribe?token=T, form body List-Unsubscribe=One-Click (RFC
-- 8058: what a mailbox provider posts when its user clicks "unsubscribe";
-- the token is that of the mail's List-Unsubscribe header or footer link,
-- minted by sender.claim) : 200 {"status": "unsubscribed", "kind"}. Turns
-- the token's kind of mail off: 'digest' sets notification, 'report'
-- report_format, to 'none'. No session: the token is the proof. The body
-- must be exactly that field (422 VALIDATION otherwise, before anything
-- else); counted per client IP ('unsubscribe_ip'; 429 past it); then the
-- token: unknown, forged, expired (90 days) or of another purpose: 400
-- INVALID_TOKEN (committed, so that the attempt stays counted). A token
-- is good for many posts (a provider may post twice): again while its kind is off, 200 and nothing changes; once the
-- account turned the kind back on, a token used before is spent (400),
-- while the links of other mails still work. Logs INFO 'unsubscribed'
-- (the kind, never the token) when it turns a kind off.
CREATE OR REPLACE FUNCTION api.unsubscribe(ctx request.context, token text, list_unsubscribe text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_token auth.one_time_tokens;
  v_current text;
BEGIN
  IF unsubscribe.list_unsubscribe IS DISTINCT FROM 'One-Click' THEN
    PERFORM response.raise(422, 'VALIDATION', 'the body must be List-Unsubscribe=One-Click',
                           jsonb_build_object('List-Unsubscribe', CASE WHEN unsubscribe.list_unsubscribe IS NULL
                                                                       THEN 'required' ELSE 'must be One-Click' END));
  END IF;
  PERFORM auth.rate_count(ARRAY[auth.rate_key('unsubscribe_ip', auth.ip_subject(ctx.ip))]);

  SELECT * INTO v_token FROM auth.one_time_tokens t
   WHERE octet_length(unsubscribe.token) <= 64
     AND t.token_digest = auth.token_digest(unsubscribe.token)
     AND t.purpose = 'unsubscribe' AND t.expires_at > now()
   FOR UPDATE;
  IF v_token.id IS NULL THEN
    RETURN auth.invalid_token_answer(); -- committed: the attempt stays counted
  END IF;

  v_current := tracking.preferences_json(v_token.account_id)
               ->> CASE v_token.unsubscribes WHEN 'digest' THEN 'notification' ELSE 'report_format' END;
  IF v_current <> 'none' THEN
    IF v_token.used_at IS NOT NULL THEN
      RETURN auth.invalid_token_answer(); -- used, and the kind was turned back on since
    END IF;
    INSERT INTO tracking.preferences (account_id) VALUES (v_token.account_id) ON CONFLICT (account_id) DO NOTHING;
    UPDATE tracking.preferences p
       SET notification = CASE v_token.unsubscribes WHEN 'digest' THEN 'none' ELSE p.notification END,
           report_format = CASE v_token.unsubscribes WHEN 'report' THEN 'none' ELSE p.report_format END,
           updated_at = now()
     WHERE p.account_id = v_token.account_id;
    PERFORM audit.write('INFO', 'mail', 'unsubscribed', v_token.account_id,
                        jsonb_build_object('kind', v_token.unsubscribes), ctx);
  END IF;
  UPDATE auth.one_time_tokens t SET used_at = coalesce(t.used_at, now()) WHERE t.id = v_token.id;
  RETURN json_build_object('status', 'unsubscribed', 'kind', v_token.unsubscribes);
END
$$;
