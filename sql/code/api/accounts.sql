-- ============================================================================
-- api: accounts (/availability, /accounts, /account)
-- ============================================================================
-- Conventions as in sessions.sql: SECURITY DEFINER, fixed search_path, the
-- request's context first, json out, the token checked in here.

-- GET /availability?username=&email= : {"status": "OK" | "USERNAME" | "EMAIL"}
-- It tells anyone whether a username or an e-mail address is registered (a
-- sign-up form needs that), so it is limited per client IP
-- (auth.rate_limits 'availability_ip'; 429 RATE_LIMITED past it): a form
-- gets its answers, a bulk scan of addresses does not.
CREATE OR REPLACE FUNCTION api.availability(ctx request.context, username text, email text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
BEGIN
  IF username IS NULL AND email IS NULL THEN
    PERFORM response.raise(422, 'VALIDATION', 'give a username, an email or both',
                           '{"username": "required without email", "email": "required without username"}');
  END IF;
  PERFORM auth.rate_count(ARRAY[auth.rate_key('availability_ip', auth.ip_subject(ctx.ip))]);
  RETURN json_build_object('status', auth.check_user_availability(username, email));
END
$$;

-- POST /accounts {username, email, password, display_name?} : 201 {"account": {...}}
-- The account starts unconfirmed (email_confirmed_at null) and a
-- confirmation link is queued to its address in the same transaction
-- (mail.queue_confirmation); it may log in and use the site meanwhile.
-- Logs INFO 'account created'. Once the fields are valid, the attempt is
-- counted per client IP (auth.rate_limits 'bcrypt_ip', shared with every
-- call that runs bcrypt; 429 past it) before the availability check and
-- bcrypt. A taken username or address is a committed 409 (response.fail),
-- so that the count stands: sign-up answers what GET /availability does,
-- and must not be a faster way to ask.
CREATE OR REPLACE FUNCTION api.signup(ctx request.context, username text, email text, password text, display_name text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_problems jsonb;
  v_constraint text;
  v_account auth.accounts;
BEGIN
  v_problems := jsonb_strip_nulls(jsonb_build_object(
                  'username', CASE WHEN signup.username IS NULL THEN 'required' END,
                  'email', CASE WHEN signup.email IS NULL THEN 'required' END,
                  'password', CASE WHEN signup.password IS NULL THEN 'required' END))
                || auth.account_problems(signup.username, signup.email, signup.password, signup.display_name);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  PERFORM auth.rate_count(ARRAY[auth.rate_key('bcrypt_ip', auth.ip_subject(ctx.ip))]);
  CASE auth.check_user_availability(signup.username, signup.email)
    WHEN 'USERNAME' THEN RETURN response.fail(409, 'USERNAME_TAKEN', 'that username is taken');
    WHEN 'EMAIL' THEN RETURN response.fail(409, 'EMAIL_TAKEN', 'that e-mail address is already registered');
    ELSE NULL;
  END CASE;

  BEGIN
    INSERT INTO auth.accounts (username, email, password_hash, display_name)
    VALUES (signup.username, signup.email, auth.hash_password(signup.password), signup.display_name)
    RETURNING * INTO v_account;
  EXCEPTION WHEN unique_violation THEN
    -- A concurrent signup won the race between the check above and this insert.
    GET STACKED DIAGNOSTICS v_constraint = CONSTRAINT_NAME;
    IF v_constraint = 'accounts_email_key' THEN
      RETURN response.fail(409, 'EMAIL_TAKEN', 'that e-mail address is already registered');
    END IF;
    RETURN response.fail(409, 'USERNAME_TAKEN', 'that username is taken');
  END;
  PERFORM mail.queue_confirmation(v_account, v_account.email::text);
  PERFORM audit.write('INFO', 'auth', 'account created', v_account.id,
                      jsonb_build_object('username', v_account.username::text), ctx);
  RETURN json_build_object('account', auth.account_json(v_account));
END
$$;

-- PATCH /account {display_name?, email?, password?} : 200 {"account"}. An
-- absent field is left alone; an empty display_name falls back to the
-- username, and changes at once. A new email does not: it needs the current
-- password (missing: 422; wrong: a committed 401 INVALID_CREDENTIALS,
-- counted as a password change is, auth.password_keys, before bcrypt), is
-- refused with a committed 409 EMAIL_TAKEN when another account has it, and
-- becomes pending_email: a confirmation link is queued to it and a notice
-- (no link) to the current address, which stays until the link is followed
-- (api.confirm_email). The account's own address again, in any case, is
-- no new address: its spelling is taken at once, and a pending change is
-- called off. Logs INFO 'account updated' with the names of
-- the fields that changed (pending_email for a requested address change).
CREATE OR REPLACE FUNCTION api.update_account(ctx request.context, display_name text, email text, password text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_before auth.accounts;
  v_account auth.accounts;
  v_failure json;
  v_changed text[];
  v_new_email boolean;
  v_confirmation bigint;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_problems := auth.account_problems(NULL, update_account.email, NULL, update_account.display_name);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  SELECT * INTO v_before FROM auth.accounts a WHERE a.id = v_session.account_id FOR UPDATE;
  v_new_email := update_account.email IS NOT NULL AND update_account.email::citext <> v_before.email;
  IF v_new_email THEN
    IF update_account.password IS NULL THEN
      PERFORM response.raise(422, 'VALIDATION', 'changing the e-mail address needs the current password',
                             '{"password": "required to change the email"}');
    END IF;
    v_failure := auth.verify_password(ctx, auth.password_keys(v_session.account_id, ctx.ip), update_account.password,
                                      v_before.password_hash, 'the password is wrong', 'address change', v_session.account_id);
    IF v_failure IS NOT NULL THEN RETURN v_failure; END IF;
    IF EXISTS (SELECT 1 FROM auth.accounts a WHERE a.email = update_account.email::citext) THEN
      RETURN response.fail(409, 'EMAIL_TAKEN', 'that e-mail address is already registered');
    END IF;
  END IF;

  UPDATE auth.accounts a
     SET display_name = coalesce(update_account.display_name, a.display_name),
         -- Another spelling of the same address (citext): no new address.
         email = CASE WHEN update_account.email IS NOT NULL AND NOT v_new_email THEN update_account.email::citext
                      ELSE a.email END,
         pending_email = CASE WHEN v_new_email THEN update_account.email::citext
                              WHEN update_account.email IS NOT NULL THEN NULL
                              ELSE a.pending_email END
   WHERE a.id = v_session.account_id
  RETURNING * INTO v_account;
  IF v_new_email THEN
    v_confirmation := mail.queue_confirmation(v_account, v_account.pending_email::text);
    PERFORM mail.enqueue('email_change_notice', v_account.id, v_before.email::text,
                         jsonb_build_object('username', v_account.username::text, 'display_name', v_account.display_name,
                                            'new_email', v_account.pending_email::text),
                         'notice:' || v_confirmation);
  ELSIF update_account.email IS NOT NULL AND v_before.pending_email IS NOT NULL THEN
    -- The change is called off: its link must not work any more.
    UPDATE auth.one_time_tokens t SET used_at = now()
     WHERE t.account_id = v_account.id AND t.purpose = 'confirm' AND t.used_at IS NULL AND t.email = v_before.pending_email;
  END IF;

  v_changed := array_remove(ARRAY[
                 CASE WHEN v_account.display_name IS DISTINCT FROM v_before.display_name THEN 'display_name' END,
                 CASE WHEN v_account.email::text IS DISTINCT FROM v_before.email::text THEN 'email' END,
                 CASE WHEN v_account.pending_email::text IS DISTINCT FROM v_before.pending_email::text THEN 'pending_email' END], NULL);
  IF cardinality(v_changed) > 0 THEN
    PERFORM audit.write('INFO', 'auth', 'account updated', v_account.id,
                        jsonb_build_object('changed', v_changed), ctx);
  END IF;
  RETURN json_build_object('account', auth.account_json(v_account));
END
$$;

-- PUT /account/password {current_password, new_password} : 204; every other
-- session of the account is deleted (every one, for a proxy-asserted
-- identity: the proxy's password is its own, and the current password is
-- asked all the same). A new password equal to the current one is a 422
-- (new_password), found without bcrypt: the same text. Every attempt is
-- counted before bcrypt (auth.password_keys: per client IP, and per account
-- under a key of its own, so that failed logins of others never refuse the
-- holder of a session; 429 RATE_LIMITED past a limit of auth.rate_limits).
-- A wrong current password is a committed 401, so a stolen token cannot
-- guess it quickly. Logs INFO 'password changed' (or WARN 'password change
-- failed' / 'password change throttled').
CREATE OR REPLACE FUNCTION api.change_password(ctx request.context, current_password text, new_password text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_failure json;
  v_count integer;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_problems := jsonb_strip_nulls(jsonb_build_object(
                  'current_password', CASE WHEN current_password IS NULL THEN 'required' END,
                  'new_password', CASE WHEN new_password IS NULL THEN 'required'
                                       WHEN new_password = current_password THEN 'is the same as the current password' END))
                || coalesce((SELECT jsonb_object_agg('new_password', p.value)
                               FROM jsonb_each(auth.account_problems(NULL, NULL, new_password, NULL)) p), '{}');
  IF v_problems IS NOT NULL AND v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  v_failure := auth.verify_password(ctx, auth.password_keys(v_session.account_id, ctx.ip), current_password,
                                    (SELECT a.password_hash FROM auth.accounts a WHERE a.id = v_session.account_id),
                                    'the current password is wrong', 'password change', v_session.account_id);
  IF v_failure IS NOT NULL THEN RETURN v_failure; END IF;

  UPDATE auth.accounts a SET password_hash = auth.hash_password(new_password) WHERE a.id = v_session.account_id;
  DELETE FROM auth.account_sessions s
   WHERE s.account_id = v_session.account_id AND s.id IS DISTINCT FROM v_session.session_id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM audit.write('INFO', 'auth', 'password changed', v_session.account_id,
                      jsonb_build_object('other_sessions_revoked', v_count), ctx);
  RETURN NULL;
END
$$;

-- DELETE /account {password} : 204; the account and everything it owns go
-- (foreign keys cascade). Attempts are counted as a password change's are
-- (auth.password_keys, before bcrypt; 429 past a limit); a wrong password is
-- a committed 401. Logs INFO 'account deleted' (the row keeps the account's
-- id and username), or WARN 'account deletion failed' / 'account deletion
-- throttled'.
CREATE OR REPLACE FUNCTION api.delete_account(ctx request.context, password text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_failure json;
  v_username text;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  IF password IS NULL THEN
    PERFORM response.raise(422, 'VALIDATION', 'password is required', '{"password": "required"}');
  END IF;
  v_failure := auth.verify_password(ctx, auth.password_keys(v_session.account_id, ctx.ip), password,
                                    (SELECT a.password_hash FROM auth.accounts a WHERE a.id = v_session.account_id),
                                    'the password is wrong', 'account deletion', v_session.account_id);
  IF v_failure IS NOT NULL THEN RETURN v_failure; END IF;

  DELETE FROM auth.accounts a WHERE a.id = v_session.account_id RETURNING a.username::text INTO v_username;
  PERFORM audit.write('INFO', 'auth', 'account deleted', v_session.account_id,
                      jsonb_build_object('username', v_username), ctx);
  RETURN NULL;
END
$$;
