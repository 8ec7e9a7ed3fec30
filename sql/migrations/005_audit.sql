-- Audit log (schema audit), the admin route that reads it, and maintenance.
--
-- The functions that change accounts and sessions write the log themselves,
-- in the same transaction as the change: a row exists if and only if the
-- change committed. Events that accompany a committed failure (a session
-- dropped as EXPIRED or BROWSER, a failed password check) go out through
-- response.fail, so they survive the failed request. No token, digest,
-- password or hash is ever written to the log.
--
-- The request's context (client IP, request id) reaches the functions as
-- parameters, like the token and browser, so every api function that writes
-- the log is redefined here with two more parameters, ip and request_id
-- (defaulting to NULL, so a DBA can call them by hand).
SET LOCAL search_path = pg_catalog, ext, pg_temp;

-- ============================================================================
-- The log
-- ============================================================================

CREATE SCHEMA audit;
COMMENT ON SCHEMA audit IS 'The audit log: who did what to accounts and sessions, and when.';

CREATE TABLE audit.logs (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- The moment of writing, not of the transaction's start: a row's time says
  -- when the event happened even in a long transaction.
  logged_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  level      text NOT NULL,
  source     text NOT NULL,
  message    text NOT NULL,
  -- No foreign key: the log keeps the id of an account after it is deleted.
  account_id bigint,
  client_ip  inet,
  request_id text,
  details    jsonb NOT NULL DEFAULT '{}',
  CONSTRAINT logs_level_check CHECK (level IN ('DEBUG', 'INFO', 'WARN', 'ERROR')),
  CONSTRAINT logs_source_format CHECK (source ~ '^[a-z][a-z0-9_.-]{0,31}$'),
  CONSTRAINT logs_request_id_length CHECK (length(request_id) <= 128),
  CONSTRAINT logs_details_object CHECK (jsonb_typeof(details) = 'object')
);
-- Retention deletes by time; the admin route pages by id within a source.
CREATE INDEX logs_logged_at_idx ON audit.logs (logged_at);
CREATE INDEX logs_source_id_idx ON audit.logs (source, id);
COMMENT ON TABLE audit.logs IS 'Audit log, written by the functions whose changes it describes; read through GET /admin/logs.';

-- How long log rows are kept; one row. A table the owner alone may change,
-- rather than a parameter of api.maintenance: whoever holds the gateway's
-- password must not be able to shorten the retention and erase the trail.
CREATE TABLE audit.settings (
  only_one      boolean PRIMARY KEY DEFAULT true CHECK (only_one),
  log_retention interval NOT NULL DEFAULT interval '90 days',
  CONSTRAINT settings_log_retention_check CHECK (log_retention >= interval '1 day')
);
INSERT INTO audit.settings DEFAULT VALUES;
COMMENT ON TABLE audit.settings IS 'Audit settings (one row): UPDATE audit.settings SET log_retention = ''30 days'';';

-- A retention change is itself an audit event.
CREATE FUNCTION audit.settings_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM audit.write('WARN', 'audit', 'log retention changed', NULL, NULL, NULL,
                      jsonb_build_object('from', OLD.log_retention::text, 'to', NEW.log_retention::text,
                                         'by', session_user));
  RETURN NULL;
END
$$;

CREATE TRIGGER settings_changed
  AFTER UPDATE ON audit.settings
  FOR EACH ROW WHEN (OLD.log_retention IS DISTINCT FROM NEW.log_retention)
  EXECUTE FUNCTION audit.settings_changed();

-- Severity order of the levels, for "this level and above" filters.
CREATE FUNCTION audit.level_rank(level text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN array_position(ARRAY['DEBUG', 'INFO', 'WARN', 'ERROR'], level);

-- Appends one row to the log.
CREATE FUNCTION audit.write(level text, source text, message text, account_id bigint DEFAULT NULL,
                            client_ip inet DEFAULT NULL, request_id text DEFAULT NULL, details jsonb DEFAULT '{}')
RETURNS void
LANGUAGE sql VOLATILE
BEGIN ATOMIC
  INSERT INTO audit.logs (level, source, message, account_id, client_ip, request_id, details)
  VALUES (level, source, message, account_id, client_ip, left(request_id, 128), coalesce(details, '{}'));
END;

-- Roles change by hand (psql) or by seed scripts, never through the API, so a
-- trigger catches every change, with the database user who made it.
CREATE FUNCTION audit.account_role_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM audit.write('INFO', 'auth', 'role changed', NEW.id, NULL, NULL,
                      jsonb_build_object('from', OLD.role, 'to', NEW.role, 'by', session_user));
  RETURN NULL;
END
$$;

CREATE TRIGGER accounts_role_changed
  AFTER UPDATE OF role ON auth.accounts
  FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role)
  EXECUTE FUNCTION audit.account_role_changed();

-- ============================================================================
-- auth: session checks and password checks now write the log
-- ============================================================================

-- check_session_token is bound to check_session (SQL-standard body), so both
-- are recreated; check_session_token keeps the seed's signature.
DROP FUNCTION auth.check_session_token(text, text);
DROP FUNCTION auth.check_session(text, text);

-- The session behind a token, checked against the browser that presents it.
-- message: INVALID (unknown token), EXPIRED and BROWSER (the session is
-- deleted and the drop logged as WARN; the caller must not roll that back),
-- or OK, with the session's columns. On OK, last_used is refreshed if it is
-- more than a minute old: a write on every check would cap throughput at the
-- commit rate (each commit waits for fsync), while a read-only check commits
-- without touching the WAL.
CREATE FUNCTION auth.check_session(token text, browser_info text, ip inet DEFAULT NULL, request_id text DEFAULT NULL,
  OUT message text, OUT session_id bigint, OUT account_id bigint,
  OUT created_at timestamptz, OUT last_used timestamptz, OUT expiry_time timestamptz)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v auth.account_sessions;
BEGIN
  SELECT * INTO v FROM auth.account_sessions s WHERE s.token_digest = auth.token_digest(token);
  IF NOT FOUND THEN
    message := 'INVALID';
    RETURN;
  ELSIF v.expiry_time <= now() THEN
    DELETE FROM auth.account_sessions s WHERE s.id = v.id;
    PERFORM audit.write('WARN', 'auth', 'session dropped: expired', v.account_id, ip, request_id,
                        jsonb_build_object('session_id', v.id, 'expired_at', response.ts(v.expiry_time)));
    message := 'EXPIRED';
    RETURN;
  ELSIF v.browser_info IS DISTINCT FROM coalesce(check_session.browser_info, '') THEN
    DELETE FROM auth.account_sessions s WHERE s.id = v.id;
    PERFORM audit.write('WARN', 'auth', 'session dropped: browser changed', v.account_id, ip, request_id,
                        jsonb_build_object('session_id', v.id, 'session_browser', v.browser_info,
                                           'browser', coalesce(check_session.browser_info, '')));
    message := 'BROWSER';
    RETURN;
  END IF;
  IF v.last_used < now() - interval '1 minute' THEN
    UPDATE auth.account_sessions s SET last_used = now() WHERE s.id = v.id;
    v.last_used := now();
  END IF;
  message := 'OK';
  session_id := v.id;
  account_id := v.account_id;
  created_at := v.created_at;
  last_used := v.last_used;
  expiry_time := v.expiry_time;
END
$$;

-- The seed's signature: (message, account_id, username, email, created_at),
-- with created_at the account's. Columns other than message are NULL unless OK.
CREATE FUNCTION auth.check_session_token(session_token text, browser_info text)
RETURNS TABLE (message text, account_id bigint, username text, email text, created_at timestamptz)
LANGUAGE sql
BEGIN ATOMIC
  SELECT c.message, a.id, a.username::text, a.email::text, a.created_at
    FROM auth.check_session(session_token, browser_info) c
    LEFT JOIN auth.accounts a ON a.id = c.account_id;
END;

DROP FUNCTION auth.verify_password(text[], text, text, text);

-- The throttled password check of login, password change and account
-- deletion (`action` names which, for the log). Raises 429 RATE_LIMITED while
-- any key is blocked. A wrong password counts a failure against every key,
-- logs it (WARN '<action> failed', and WARN '<action> throttled' when that
-- failure blocks a key), and returns the 401 body for the caller to return
-- (response.fail: the count and the log must be committed). The right
-- password clears the first key's count (the account's) and returns NULL.
CREATE FUNCTION auth.verify_password(keys text[], password text, hash text, failure_message text,
                                     action text, account_id bigint, ip inet, request_id text)
RETURNS json
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_retry integer := auth.throttle_retry_after(keys);
  v_blocked text[];
BEGIN
  IF v_retry > 0 THEN
    -- Not logged: the failure that started the block was, and a flood of
    -- refused attempts must not become a flood of log rows.
    PERFORM response.raise(429, 'RATE_LIMITED', 'too many failed attempts; try again later',
                           jsonb_build_object('retry_after', v_retry));
  END IF;
  IF NOT auth.password_matches(password, hash) THEN
    PERFORM auth.throttle_record_failure(keys);
    PERFORM audit.write('WARN', 'auth', action || ' failed', account_id, ip, request_id,
                        jsonb_build_object('reason', CASE WHEN account_id IS NULL THEN 'unknown login'
                                                          ELSE 'wrong password' END));
    -- Keys that this failure brought to their limit, by kind only: a login
    -- key is a digest of what was typed, which may be a password.
    SELECT array_agg(split_part(f.key, ':', 1) ORDER BY f.key) INTO v_blocked
      FROM auth.login_failures f
     WHERE f.key = ANY (keys) AND f.failures >= auth.throttle_limit(f.key);
    IF v_blocked IS NOT NULL THEN
      PERFORM audit.write('WARN', 'auth', action || ' throttled', account_id, ip, request_id,
                          jsonb_build_object('keys', v_blocked,
                                             'retry_after', auth.throttle_retry_after(keys)));
    END IF;
    RETURN response.fail(401, 'INVALID_CREDENTIALS', failure_message);
  END IF;
  DELETE FROM auth.login_failures f WHERE f.key = keys[1];
  RETURN NULL;
END
$$;

-- ============================================================================
-- api: the account routes, with ip and request_id for the log
-- ============================================================================

DROP FUNCTION api.signup(text, text, text, text);
DROP FUNCTION api.login(text, text, text, inet);
DROP FUNCTION api.current_session(text, text);
DROP FUNCTION api.logout(text, text);
DROP FUNCTION api.list_sessions(text, text);
DROP FUNCTION api.revoke_session(text, text, bigint);
DROP FUNCTION api.revoke_other_sessions(text, text);
DROP FUNCTION api.update_account(text, text, text, text);
DROP FUNCTION api.change_password(text, text, text, text, inet);
DROP FUNCTION api.delete_account(text, text, text, inet);

-- POST /accounts {username, email, password, display_name?} : 201 {"account": {...}}
-- Logs INFO 'account created'.
CREATE FUNCTION api.signup(username text, email text, password text, display_name text,
                           ip inet DEFAULT NULL, request_id text DEFAULT NULL)
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
  PERFORM audit.write('INFO', 'auth', 'account created', v_account.id, ip, request_id,
                      jsonb_build_object('username', v_account.username::text));
  RETURN json_build_object('account', auth.account_json(v_account));
END
$$;

-- POST /sessions {login, password} : 201 {"token", "expires_at", "account"}
-- login is a username or an e-mail. An unknown login and a wrong password get
-- the same 401 after the same bcrypt work; failures count against the account
-- (or the unknown login) and the client IP, and are committed (response.fail)
-- so that throttling sees them. Logs INFO 'login succeeded', or (in
-- auth.verify_password) WARN 'login failed' / 'login throttled'.
CREATE FUNCTION api.login(login text, password text, browser text, ip inet, request_id text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_account auth.accounts;
  v_failure json;
  v_token text;
  v_session auth.account_sessions;
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
                                    v_account.password_hash, 'unknown login or wrong password',
                                    'login', v_account.id, ip, request_id);
  IF v_failure IS NOT NULL THEN RETURN v_failure; END IF;

  UPDATE auth.accounts a
     SET login_count = a.login_count + 1,
         last_login_at = a.current_login_at, last_login_ip = a.current_login_ip,
         current_login_at = now(), current_login_ip = ip
   WHERE a.id = v_account.id
  RETURNING * INTO v_account;

  v_token := auth.create_account_session(v_account.username::text, browser, ip);
  SELECT * INTO v_session FROM auth.account_sessions s WHERE s.token_digest = auth.token_digest(v_token);
  PERFORM audit.write('INFO', 'auth', 'login succeeded', v_account.id, ip, request_id,
                      jsonb_build_object('session_id', v_session.id, 'browser', v_session.browser_info));
  RETURN json_build_object('token', v_token, 'expires_at', response.ts(v_session.expiry_time),
                           'account', auth.account_json(v_account));
END
$$;

-- GET /session : 200 {"account", "session": {id, created_at, last_used, expires_at}}
CREATE FUNCTION api.current_session(token text, browser text, ip inet DEFAULT NULL, request_id text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(token, browser, ip, request_id);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  RETURN (SELECT json_build_object(
            'account', auth.account_json(a),
            'session', json_build_object('id', v_session.session_id, 'created_at', response.ts(v_session.created_at),
                                         'last_used', response.ts(v_session.last_used),
                                         'expires_at', response.ts(v_session.expiry_time)))
            FROM auth.accounts a WHERE a.id = v_session.account_id);
END
$$;

-- DELETE /session : 204, the presented token is deleted. Logs INFO 'logged out'.
CREATE FUNCTION api.logout(token text, browser text, ip inet DEFAULT NULL, request_id text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(token, browser, ip, request_id);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  DELETE FROM auth.account_sessions s WHERE s.id = v_session.session_id;
  PERFORM audit.write('INFO', 'auth', 'logged out', v_session.account_id, ip, request_id,
                      jsonb_build_object('session_id', v_session.session_id));
  RETURN NULL;
END
$$;

-- GET /sessions : 200 {"sessions": [...]}, newest first; never a token or digest.
CREATE FUNCTION api.list_sessions(token text, browser text, ip inet DEFAULT NULL, request_id text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(token, browser, ip, request_id);
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
-- Logs INFO 'session revoked'.
CREATE FUNCTION api.revoke_session(token text, browser text, id bigint, ip inet DEFAULT NULL, request_id text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(token, browser, ip, request_id);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  DELETE FROM auth.account_sessions s WHERE s.id = revoke_session.id AND s.account_id = v_session.account_id;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such session');
  END IF;
  PERFORM audit.write('INFO', 'auth', 'session revoked', v_session.account_id, ip, request_id,
                      jsonb_build_object('session_id', revoke_session.id));
  RETURN NULL;
END
$$;

-- DELETE /sessions : 204; every session of the caller but the current one.
-- Logs INFO 'other sessions revoked' with their number.
CREATE FUNCTION api.revoke_other_sessions(token text, browser text, ip inet DEFAULT NULL, request_id text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_count integer;
BEGIN
  v_session := auth.check_session(token, browser, ip, request_id);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  DELETE FROM auth.account_sessions s WHERE s.account_id = v_session.account_id AND s.id <> v_session.session_id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM audit.write('INFO', 'auth', 'other sessions revoked', v_session.account_id, ip, request_id,
                      jsonb_build_object('count', v_count));
  RETURN NULL;
END
$$;

-- PATCH /account {display_name?, email?} : 200 {"account"}. An absent field
-- is left alone; an empty display_name falls back to the username. Logs INFO
-- 'account updated' with the names of the fields that changed, if any did.
CREATE FUNCTION api.update_account(token text, browser text, display_name text, email text,
                                   ip inet DEFAULT NULL, request_id text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_problems jsonb;
  v_before auth.accounts;
  v_account auth.accounts;
  v_changed text[];
BEGIN
  v_session := auth.check_session(token, browser, ip, request_id);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  v_problems := auth.account_problems(NULL, update_account.email, NULL, update_account.display_name);
  IF v_problems <> '{}' THEN
    PERFORM response.raise(422, 'VALIDATION', 'some fields are invalid', v_problems);
  END IF;

  SELECT * INTO v_before FROM auth.accounts a WHERE a.id = v_session.account_id FOR UPDATE;
  BEGIN
    UPDATE auth.accounts a
       SET display_name = coalesce(update_account.display_name, a.display_name),
           email = coalesce(update_account.email::citext, a.email)
     WHERE a.id = v_session.account_id
    RETURNING * INTO v_account;
  EXCEPTION WHEN unique_violation THEN
    PERFORM response.raise(409, 'EMAIL_TAKEN', 'that e-mail address is already registered');
  END;

  v_changed := array_remove(ARRAY[
                 CASE WHEN v_account.display_name IS DISTINCT FROM v_before.display_name THEN 'display_name' END,
                 CASE WHEN v_account.email::text IS DISTINCT FROM v_before.email::text THEN 'email' END], NULL);
  IF cardinality(v_changed) > 0 THEN
    PERFORM audit.write('INFO', 'auth', 'account updated', v_account.id, ip, request_id,
                        jsonb_build_object('changed', v_changed));
  END IF;
  RETURN json_build_object('account', auth.account_json(v_account));
END
$$;

-- PUT /account/password {current_password, new_password} : 204; every other
-- session of the account is deleted. A wrong current password is a 401
-- counted like a failed login, so a stolen token cannot guess it quickly.
-- Logs INFO 'password changed' (or WARN 'password change failed').
CREATE FUNCTION api.change_password(token text, browser text, current_password text, new_password text,
                                    ip inet, request_id text DEFAULT NULL)
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
  v_session := auth.check_session(token, browser, ip, request_id);
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
                                    'the current password is wrong',
                                    'password change', v_session.account_id, ip, request_id);
  IF v_failure IS NOT NULL THEN RETURN v_failure; END IF;

  UPDATE auth.accounts a SET password_hash = auth.hash_password(new_password) WHERE a.id = v_session.account_id;
  DELETE FROM auth.account_sessions s WHERE s.account_id = v_session.account_id AND s.id <> v_session.session_id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM audit.write('INFO', 'auth', 'password changed', v_session.account_id, ip, request_id,
                      jsonb_build_object('other_sessions_revoked', v_count));
  RETURN NULL;
END
$$;

-- DELETE /account {password} : 204; the account and everything it owns go
-- (foreign keys cascade). Wrong passwords count like failed logins. Logs
-- INFO 'account deleted' (the row keeps the account's id and username).
CREATE FUNCTION api.delete_account(token text, browser text, password text, ip inet, request_id text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_failure json;
  v_username text;
BEGIN
  v_session := auth.check_session(token, browser, ip, request_id);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  IF password IS NULL THEN
    PERFORM response.raise(422, 'VALIDATION', 'password is required', '{"password": "required"}');
  END IF;
  v_failure := auth.verify_password(auth.throttle_keys(v_session.account_id, NULL, ip), password,
                                    (SELECT a.password_hash FROM auth.accounts a WHERE a.id = v_session.account_id),
                                    'the password is wrong',
                                    'account deletion', v_session.account_id, ip, request_id);
  IF v_failure IS NOT NULL THEN RETURN v_failure; END IF;

  DELETE FROM auth.accounts a WHERE a.id = v_session.account_id RETURNING a.username::text INTO v_username;
  PERFORM audit.write('INFO', 'auth', 'account deleted', v_session.account_id, ip, request_id,
                      jsonb_build_object('username', v_username));
  RETURN NULL;
END
$$;

-- ============================================================================
-- api: admin
-- ============================================================================

-- GET /admin/logs?level=&source=&before=&limit= : 200 {"logs": [...], "next"}
-- Admins only (403 FORBIDDEN otherwise). Newest first; level keeps that level
-- and the more severe ones; source is an exact match; before is the "next"
-- cursor of the previous page (an id: ids only grow, so a page never repeats
-- or skips rows written meanwhile); limit is 1–100, default 20.
CREATE FUNCTION api.admin_logs(token text, browser text, level text, source text, before bigint, row_limit bigint,
                               ip inet DEFAULT NULL, request_id text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_level text := upper(admin_logs.level);
  v_limit integer;
  v_logs json;
  v_last bigint;
  v_more boolean;
BEGIN
  v_session := auth.check_session(token, browser, ip, request_id);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  IF NOT EXISTS (SELECT 1 FROM auth.accounts a WHERE a.id = v_session.account_id AND a.role = 'admin') THEN
    PERFORM response.raise(403, 'FORBIDDEN', 'only admins may read the audit log');
  END IF;
  IF (v_level IS NOT NULL AND audit.level_rank(v_level) IS NULL)
     OR row_limit NOT BETWEEN 1 AND 100 OR before < 1 THEN
    PERFORM response.raise(422, 'VALIDATION', 'some parameters are invalid', jsonb_strip_nulls(jsonb_build_object(
      'level', CASE WHEN v_level IS NOT NULL AND audit.level_rank(v_level) IS NULL
                    THEN 'must be one of DEBUG, INFO, WARN, ERROR' END,
      'limit', CASE WHEN row_limit NOT BETWEEN 1 AND 100 THEN 'must be between 1 and 100' END,
      'before', CASE WHEN before < 1 THEN 'is not a cursor from this route' END)));
  END IF;
  v_limit := coalesce(row_limit, 20);

  -- One row more than the page tells whether there is a next page.
  WITH page AS (
    SELECT l.*, a.username::text AS username
      FROM audit.logs l
      LEFT JOIN auth.accounts a ON a.id = l.account_id
     WHERE (admin_logs.before IS NULL OR l.id < admin_logs.before)
       AND (v_level IS NULL OR audit.level_rank(l.level) >= audit.level_rank(v_level))
       AND (admin_logs.source IS NULL OR l.source = admin_logs.source)
     ORDER BY l.id DESC
     LIMIT v_limit + 1)
  SELECT coalesce(json_agg(json_build_object(
                    'id', p.id, 'logged_at', response.ts(p.logged_at), 'level', p.level, 'source', p.source,
                    'message', p.message, 'account_id', p.account_id, 'username', p.username,
                    'client_ip', host(p.client_ip), 'request_id', p.request_id, 'details', p.details)
                  ORDER BY p.id DESC) FILTER (WHERE p.rn <= v_limit), '[]'),
         max(p.id) FILTER (WHERE p.rn = v_limit),
         count(*) > v_limit
    INTO v_logs, v_last, v_more
    FROM (SELECT page.*, row_number() OVER (ORDER BY page.id DESC) AS rn FROM page) p;

  RETURN json_build_object('logs', v_logs, 'next', CASE WHEN v_more THEN v_last::text END);
END
$$;

-- ============================================================================
-- Maintenance
-- ============================================================================

-- One bounded, idempotent round of clean-up: deletes at most batch_size
-- (default 1000) expired sessions, stale throttle counters and log rows older
-- than audit.settings.log_retention. Answers the counts and whether a full
-- batch suggests more is left; callers repeat while "more". Each round is its
-- own short transaction, so clean-up never holds many row locks or a long
-- snapshot. One round at a time across all gateways: a round that finds
-- another one running skips ("skipped": true).
-- Called by the gateway on a timer (MAINTENANCE_INTERVAL) and by `scripts/db maintain`.
CREATE FUNCTION api.maintenance(batch_size integer DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_retention interval := (SELECT s.log_retention FROM audit.settings s);
  v_batch integer := coalesce(batch_size, 1000);
  v_sessions integer;
  v_counters integer;
  v_logs integer;
BEGIN
  IF v_batch NOT BETWEEN 1 AND 100000 THEN
    PERFORM response.raise(422, 'VALIDATION', 'invalid batch size', '{"batch_size": "must be between 1 and 100000"}');
  END IF;
  IF NOT pg_try_advisory_xact_lock(hashtext('homebase maintenance')) THEN
    RETURN json_build_object('skipped', true, 'more', false);
  END IF;

  DELETE FROM auth.account_sessions s
   WHERE s.id IN (SELECT x.id FROM auth.account_sessions x WHERE x.expiry_time <= now()
                   ORDER BY x.expiry_time LIMIT v_batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS v_sessions = ROW_COUNT;

  DELETE FROM auth.login_failures f
   WHERE f.key IN (SELECT x.key FROM auth.login_failures x WHERE x.window_start + auth.throttle_window() <= now()
                    LIMIT v_batch FOR UPDATE SKIP LOCKED);
  GET DIAGNOSTICS v_counters = ROW_COUNT;

  DELETE FROM audit.logs l
   WHERE l.id IN (SELECT x.id FROM audit.logs x WHERE x.logged_at < now() - v_retention
                   ORDER BY x.logged_at LIMIT v_batch);
  GET DIAGNOSTICS v_logs = ROW_COUNT;

  IF v_sessions + v_counters + v_logs > 0 THEN
    PERFORM audit.write('INFO', 'db', 'maintenance', NULL, NULL, NULL,
                        jsonb_build_object('expired_sessions', v_sessions, 'throttle_counters', v_counters,
                                           'old_logs', v_logs, 'log_retention', v_retention::text));
  END IF;
  RETURN json_build_object('skipped', false, 'expired_sessions', v_sessions, 'throttle_counters', v_counters,
                           'old_logs', v_logs, 'more', greatest(v_sessions, v_counters, v_logs) >= v_batch);
END
$$;

---- create above / drop below ----

DROP FUNCTION api.maintenance(integer);
DROP FUNCTION api.admin_logs(text, text, text, text, bigint, bigint, inet, text);
DROP FUNCTION api.delete_account(text, text, text, inet, text);
DROP FUNCTION api.change_password(text, text, text, text, inet, text);
DROP FUNCTION api.update_account(text, text, text, text, inet, text);
DROP FUNCTION api.revoke_other_sessions(text, text, inet, text);
DROP FUNCTION api.revoke_session(text, text, bigint, inet, text);
DROP FUNCTION api.list_sessions(text, text, inet, text);
DROP FUNCTION api.logout(text, text, inet, text);
DROP FUNCTION api.current_session(text, text, inet, text);
DROP FUNCTION api.login(text, text, text, inet, text);
DROP FUNCTION api.signup(text, text, text, text, inet, text);
DROP FUNCTION auth.verify_password(text[], text, text, text, text, bigint, inet, text);
DROP FUNCTION auth.check_session_token(text, text);
DROP FUNCTION auth.check_session(text, text, inet, text);
DROP TRIGGER accounts_role_changed ON auth.accounts;
DROP FUNCTION audit.account_role_changed();
DROP SCHEMA audit CASCADE;

-- What 003_auth.sql and 004_api_accounts.sql defined, as they defined it.
SET LOCAL search_path = pg_catalog, ext, pg_temp;

-- The session behind a token, checked against the browser that presents it.
-- message: INVALID (unknown token), EXPIRED and BROWSER (the session is
-- deleted; the caller must not roll that back), or OK, with the session's
-- columns. On OK, last_used is refreshed if it is more than a minute old: a
-- write on every check would cap throughput at the commit rate (each commit
-- waits for fsync), while a read-only check commits without touching the WAL.
CREATE FUNCTION auth.check_session(token text, browser_info text,
  OUT message text, OUT session_id bigint, OUT account_id bigint,
  OUT created_at timestamptz, OUT last_used timestamptz, OUT expiry_time timestamptz)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v auth.account_sessions;
BEGIN
  SELECT * INTO v FROM auth.account_sessions s WHERE s.token_digest = auth.token_digest(token);
  IF NOT FOUND THEN
    message := 'INVALID';
    RETURN;
  ELSIF v.expiry_time <= now() THEN
    DELETE FROM auth.account_sessions s WHERE s.id = v.id;
    message := 'EXPIRED';
    RETURN;
  ELSIF v.browser_info IS DISTINCT FROM coalesce(check_session.browser_info, '') THEN
    DELETE FROM auth.account_sessions s WHERE s.id = v.id;
    message := 'BROWSER';
    RETURN;
  END IF;
  IF v.last_used < now() - interval '1 minute' THEN
    UPDATE auth.account_sessions s SET last_used = now() WHERE s.id = v.id;
    v.last_used := now();
  END IF;
  message := 'OK';
  session_id := v.id;
  account_id := v.account_id;
  created_at := v.created_at;
  last_used := v.last_used;
  expiry_time := v.expiry_time;
END
$$;

-- The seed's signature: (message, account_id, username, email, created_at),
-- with created_at the account's. Columns other than message are NULL unless OK.
CREATE FUNCTION auth.check_session_token(session_token text, browser_info text)
RETURNS TABLE (message text, account_id bigint, username text, email text, created_at timestamptz)
LANGUAGE sql
BEGIN ATOMIC
  SELECT c.message, a.id, a.username::text, a.email::text, a.created_at
    FROM auth.check_session(session_token, browser_info) c
    LEFT JOIN auth.accounts a ON a.id = c.account_id;
END;

-- The throttled password check of login, password change and account
-- deletion. Raises 429 RATE_LIMITED while any key is blocked. A wrong password
-- counts a failure against every key and returns the 401 body for the caller
-- to return (response.fail: the count must be committed). The right password
-- clears the first key's count (the account's) and returns NULL.
CREATE FUNCTION auth.verify_password(keys text[], password text, hash text, failure_message text)
RETURNS json
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_retry integer := auth.throttle_retry_after(keys);
BEGIN
  IF v_retry > 0 THEN
    PERFORM response.raise(429, 'RATE_LIMITED', 'too many failed attempts; try again later',
                           jsonb_build_object('retry_after', v_retry));
  END IF;
  IF NOT auth.password_matches(password, hash) THEN
    PERFORM auth.throttle_record_failure(keys);
    RETURN response.fail(401, 'INVALID_CREDENTIALS', failure_message);
  END IF;
  DELETE FROM auth.login_failures f WHERE f.key = keys[1];
  RETURN NULL;
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
