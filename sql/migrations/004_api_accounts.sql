-- api: accounts and sessions, one function per route of API.md.
--
-- Every api function is SECURITY DEFINER (runs as the owner), has a fixed
-- search_path, returns json, and authenticates inside the database: the
-- gateway passes the raw token and the browser's User-Agent, never an
-- account id. Errors: response.raise (rolled back) or response.fail
-- (committed); see 002_response.sql.
SET LOCAL search_path = pg_catalog, ext, pg_temp;

-- GET /availability?username=&email= : {"status": "OK" | "USERNAME" | "EMAIL"}
CREATE FUNCTION api.availability(username text, email text) RETURNS json
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
BEGIN
  IF username IS NULL AND email IS NULL THEN
    PERFORM response.raise(422, 'VALIDATION', 'give a username, an email or both',
                           '{"username": "required without email", "email": "required without username"}');
  END IF;
  RETURN json_build_object('status', auth.check_user_availability(username, email));
END
$$;

-- POST /accounts {username, email, password, display_name?} : 201 {"account": {...}}
CREATE FUNCTION api.signup(username text, email text, password text, display_name text) RETURNS json
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

  CASE auth.check_user_availability(signup.username, signup.email)
    WHEN 'USERNAME' THEN PERFORM response.raise(409, 'USERNAME_TAKEN', 'that username is taken');
    WHEN 'EMAIL' THEN PERFORM response.raise(409, 'EMAIL_TAKEN', 'that e-mail address is already registered');
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
      PERFORM response.raise(409, 'EMAIL_TAKEN', 'that e-mail address is already registered');
    END IF;
    PERFORM response.raise(409, 'USERNAME_TAKEN', 'that username is taken');
  END;
  RETURN json_build_object('account', auth.account_json(v_account));
END
$$;

-- POST /sessions {login, password} : 201 {"token", "expires_at", "account"}
-- login is a username or an e-mail. An unknown login and a wrong password get
-- the same 401 after the same bcrypt work; failures count against the account
-- (or the unknown login) and the client IP, and are committed (response.fail)
-- so that throttling sees them.
CREATE FUNCTION api.login(login text, password text, browser text, ip inet) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_account auth.accounts;
  v_failure json;
  v_token text;
  v_expiry timestamptz;
BEGIN
  IF login IS NULL OR password IS NULL THEN
    PERFORM response.raise(422, 'VALIDATION', 'login and password are required',
      jsonb_strip_nulls(jsonb_build_object('login', CASE WHEN login IS NULL THEN 'required' END,
                                           'password', CASE WHEN password IS NULL THEN 'required' END)));
  END IF;

  -- A username cannot contain "@" and an e-mail must, so at most one row matches.
  SELECT * INTO v_account FROM auth.accounts a
   WHERE a.username = login::citext OR a.email = login::citext;

  v_failure := auth.verify_password(auth.throttle_keys(v_account.id, login, ip), password,
                                    v_account.password_hash, 'unknown login or wrong password');
  IF v_failure IS NOT NULL THEN RETURN v_failure; END IF;

  UPDATE auth.accounts a
     SET login_count = a.login_count + 1,
         last_login_at = a.current_login_at, last_login_ip = a.current_login_ip,
         current_login_at = now(), current_login_ip = ip
   WHERE a.id = v_account.id
  RETURNING * INTO v_account;

  v_token := auth.create_account_session(v_account.username::text, browser, ip);
  SELECT s.expiry_time INTO v_expiry FROM auth.account_sessions s WHERE s.token_digest = auth.token_digest(v_token);
  RETURN json_build_object('token', v_token, 'expires_at', response.ts(v_expiry),
                           'account', auth.account_json(v_account));
END
$$;

-- GET /session : 200 {"account", "session": {id, created_at, last_used, expires_at}}
CREATE FUNCTION api.current_session(token text, browser text) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(token, browser);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  RETURN (SELECT json_build_object(
            'account', auth.account_json(a),
            'session', json_build_object('id', v_session.session_id, 'created_at', response.ts(v_session.created_at),
                                         'last_used', response.ts(v_session.last_used),
                                         'expires_at', response.ts(v_session.expiry_time)))
            FROM auth.accounts a WHERE a.id = v_session.account_id);
END
$$;

-- DELETE /session : 204, the presented token is deleted.
CREATE FUNCTION api.logout(token text, browser text) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(token, browser);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  DELETE FROM auth.account_sessions s WHERE s.id = v_session.session_id;
  RETURN NULL;
END
$$;

-- GET /sessions : 200 {"sessions": [...]}, newest first; never a token or digest.
CREATE FUNCTION api.list_sessions(token text, browser text) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(token, browser);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  RETURN json_build_object('sessions', coalesce(
    (SELECT json_agg(json_build_object(
              'id', s.id, 'browser_info', s.browser_info, 'ip_address', host(s.ip_address),
              'created_at', response.ts(s.created_at), 'last_used', response.ts(s.last_used),
              'expires_at', response.ts(s.expiry_time), 'current', s.id = v_session.session_id)
            ORDER BY s.created_at DESC, s.id DESC)
       FROM auth.account_sessions s
      WHERE s.account_id = v_session.account_id AND s.expiry_time > now()),
    '[]'));
END
$$;

-- DELETE /sessions/{id} : 204; 404 unless the session is the caller's.
CREATE FUNCTION api.revoke_session(token text, browser text, id bigint) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(token, browser);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  DELETE FROM auth.account_sessions s WHERE s.id = revoke_session.id AND s.account_id = v_session.account_id;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such session');
  END IF;
  RETURN NULL;
END
$$;

-- DELETE /sessions : 204; every session of the caller but the current one.
CREATE FUNCTION api.revoke_other_sessions(token text, browser text) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(token, browser);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  DELETE FROM auth.account_sessions s WHERE s.account_id = v_session.account_id AND s.id <> v_session.session_id;
  RETURN NULL;
END
$$;

-- PATCH /account {display_name?, email?} : 200 {"account"}. An absent field
-- is left alone; an empty display_name falls back to the username.
CREATE FUNCTION api.update_account(token text, browser text, display_name text, email text) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_account auth.accounts;
BEGIN
  v_session := auth.check_session(token, browser);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_problems := auth.account_problems(NULL, update_account.email, NULL, update_account.display_name);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  BEGIN
    UPDATE auth.accounts a
       SET display_name = coalesce(update_account.display_name, a.display_name),
           email = coalesce(update_account.email::citext, a.email)
     WHERE a.id = v_session.account_id
    RETURNING * INTO v_account;
  EXCEPTION WHEN unique_violation THEN
    PERFORM response.raise(409, 'EMAIL_TAKEN', 'that e-mail address is already registered');
  END;
  RETURN json_build_object('account', auth.account_json(v_account));
END
$$;

-- PUT /account/password {current_password, new_password} : 204; every other
-- session of the account is deleted. A wrong current password is a 401
-- counted like a failed login, so a stolen token cannot guess it quickly.
CREATE FUNCTION api.change_password(token text, browser text, current_password text, new_password text, ip inet)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_failure json;
BEGIN
  v_session := auth.check_session(token, browser);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_problems := jsonb_strip_nulls(jsonb_build_object(
                  'current_password', CASE WHEN current_password IS NULL THEN 'required' END,
                  'new_password', CASE WHEN new_password IS NULL THEN 'required' END))
                || coalesce((SELECT jsonb_object_agg('new_password', p.value)
                               FROM jsonb_each(auth.account_problems(NULL, NULL, new_password, NULL)) p), '{}');
  IF v_problems IS NOT NULL AND v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  v_failure := auth.verify_password(auth.throttle_keys(v_session.account_id, NULL, ip), current_password,
                                    (SELECT a.password_hash FROM auth.accounts a WHERE a.id = v_session.account_id),
                                    'the current password is wrong');
  IF v_failure IS NOT NULL THEN RETURN v_failure; END IF;

  UPDATE auth.accounts a SET password_hash = auth.hash_password(new_password) WHERE a.id = v_session.account_id;
  DELETE FROM auth.account_sessions s WHERE s.account_id = v_session.account_id AND s.id <> v_session.session_id;
  RETURN NULL;
END
$$;

-- DELETE /account {password} : 204; the account and everything it owns go
-- (foreign keys cascade). Wrong passwords count like failed logins.
CREATE FUNCTION api.delete_account(token text, browser text, password text, ip inet) RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_failure json;
BEGIN
  v_session := auth.check_session(token, browser);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  IF password IS NULL THEN
    PERFORM response.raise(422, 'VALIDATION', 'password is required', '{"password": "required"}');
  END IF;
  v_failure := auth.verify_password(auth.throttle_keys(v_session.account_id, NULL, ip), password,
                                    (SELECT a.password_hash FROM auth.accounts a WHERE a.id = v_session.account_id),
                                    'the password is wrong');
  IF v_failure IS NOT NULL THEN RETURN v_failure; END IF;

  DELETE FROM auth.accounts a WHERE a.id = v_session.account_id;
  RETURN NULL;
END
$$;

-- GET /readyz : {"version": n}, the applied migration version, which the
-- gateway compares with the one it was built for.
CREATE FUNCTION api.readiness() RETURNS json
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT json_build_object('version', max(v.version)) FROM public.schema_version v;
END;

---- create above / drop below ----

DROP FUNCTION api.readiness();
DROP FUNCTION api.delete_account(text, text, text, inet);
DROP FUNCTION api.change_password(text, text, text, text, inet);
DROP FUNCTION api.update_account(text, text, text, text);
DROP FUNCTION api.revoke_other_sessions(text, text);
DROP FUNCTION api.revoke_session(text, text, bigint);
DROP FUNCTION api.list_sessions(text, text);
DROP FUNCTION api.logout(text, text);
DROP FUNCTION api.current_session(text, text);
DROP FUNCTION api.login(text, text, text, inet);
DROP FUNCTION api.signup(text, text, text, text);
DROP FUNCTION api.availability(text, text);
