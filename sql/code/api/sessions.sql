-- ============================================================================
-- api: sessions (POST/GET/DELETE /session(s))
-- ============================================================================
-- Every api function is SECURITY DEFINER (runs as the owner), has a fixed
-- search_path, takes the request's context first (sql/code/request.sql),
-- returns json, and authenticates inside the database: the gateway passes
-- the raw token and the browser's User-Agent, never an account id. Errors:
-- response.raise (rolled back) or response.fail (committed).

-- POST /sessions {login, password} : 201 {"token", "expires_at", "account"}
-- login is a username or an e-mail. An unknown login and a wrong password get
-- the same 401 after the same bcrypt work. Every attempt is counted before
-- bcrypt runs (auth.verify_password, auth.login_keys: per client IP, per
-- account, failures per account and IP, failures per IP; 429 RATE_LIMITED
-- past a limit of auth.rate_limits), and failures are committed
-- (response.fail) so that the limits see them. A login or password that
-- cannot be one (a login longer than the longest e-mail address, 254
-- characters; a password over bcrypt's 72 bytes, which sign-up refuses) is
-- the same 401 at once: no table is read, nothing is counted or logged, so
-- a 1 MiB login costs a length check. The account-wide key is not counted
-- from an address of the account's last two logins (current_login_ip,
-- last_login_ip), so that many guessers elsewhere do not slow its owner. A disabled account
-- (auth.disable_account) gets the same 401. A success is recorded in
-- auth.logins (the monthly report's logged_in), in the same transaction.
-- Logs INFO 'login succeeded', or (in auth.verify_password) WARN 'login
-- failed' / 'login throttled'.
--
-- The hash is read without a lock and verified (bcrypt, tens of
-- milliseconds); a password change may commit meanwhile and delete the
-- account's other sessions before this one exists. So the session is made
-- only if the account still has the hash that was verified: the UPDATE
-- below locks the account's row and re-reads it (READ COMMITTED), and a
-- changed hash (or a disabled account) is the 401 of a wrong password,
-- logged as WARN 'login failed'.
CREATE OR REPLACE FUNCTION api.login(ctx request.context, login text, password text)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_account auth.accounts;
  v_account_id bigint;
  v_verified text;
  v_keys text[];
  v_failure json;
  v_token text;
  v_session auth.account_sessions;
BEGIN
  IF login IS NULL OR password IS NULL THEN
    PERFORM response.raise(422, 'VALIDATION', 'login and password are required',
      jsonb_strip_nulls(jsonb_build_object('login', CASE WHEN login IS NULL THEN 'required' END,
                                           'password', CASE WHEN password IS NULL THEN 'required' END)));
  END IF;
  IF length(login) > 254 OR octet_length(password) > 72 THEN
    RETURN response.fail(401, 'INVALID_CREDENTIALS', 'unknown login or wrong password');
  END IF;

  -- A username cannot contain "@" and an e-mail must, so at most one row matches.
  SELECT * INTO v_account FROM auth.accounts a
   WHERE a.username = login::citext OR a.email = login::citext;

  -- A disabled account's hash is withheld: its login fails as a wrong password would.
  v_verified := CASE WHEN v_account.disabled_at IS NULL THEN v_account.password_hash END;
  v_keys := auth.login_keys(v_account.id, login, ctx.ip);
  -- From an address of the account's last two logins, the account-wide key
  -- is not counted: guessers elsewhere cannot slow its owner at home, and a
  -- guesser at that address still meets the account-and-address block.
  IF ctx.ip IN (v_account.current_login_ip, v_account.last_login_ip) THEN
    v_keys := array_replace(v_keys, auth.rate_key('login_account', auth.login_subject(v_account.id, login)), NULL);
  END IF;
  v_failure := auth.verify_password(ctx, v_keys, password, v_verified,
                                    'unknown login or wrong password', 'login', v_account.id);
  IF v_failure IS NOT NULL THEN RETURN v_failure; END IF;
  v_account_id := v_account.id;

  -- The row lock orders this login after a concurrent auth.disable_account
  -- or api.change_password: an account disabled, or whose password changed,
  -- meanwhile gets no session.
  UPDATE auth.accounts a
     SET login_count = a.login_count + 1,
         last_login_at = a.current_login_at, last_login_ip = a.current_login_ip,
         current_login_at = now(), current_login_ip = ctx.ip
   WHERE a.id = v_account_id AND a.disabled_at IS NULL AND a.password_hash = v_verified
  RETURNING * INTO v_account;
  IF NOT FOUND THEN
    PERFORM audit.write('WARN', 'auth', 'login failed', v_account_id,
                        jsonb_build_object('reason', 'password changed or account disabled meanwhile'), ctx);
    RETURN response.fail(401, 'INVALID_CREDENTIALS', 'unknown login or wrong password');
  END IF;

  -- The monthly report's count of logins (auth.logins, kept 13 months).
  INSERT INTO auth.logins (account_id, logged_in_at) VALUES (v_account.id, now());
  v_token := auth.create_account_session(v_account.username::text, ctx.browser, ctx.ip);
  SELECT * INTO v_session FROM auth.account_sessions s WHERE s.token_digest = auth.token_digest(v_token);
  PERFORM audit.write('INFO', 'auth', 'login succeeded', v_account.id,
                      jsonb_build_object('session_id', v_session.id, 'browser', v_session.browser_info), ctx);
  RETURN json_build_object('token', v_token, 'expires_at', response.ts(v_session.expiry_time),
                           'account', auth.account_json(v_account));
END
$$;

-- GET /session : 200 {"account", "session": {id, created_at, last_used, expires_at}, "identity"}
-- identity is "token", or "proxy" for an identity a trusted proxy asserted
-- (auth.check_session), which has no session: "session" is null.
CREATE OR REPLACE FUNCTION api.current_session(ctx request.context)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  RETURN (SELECT json_build_object(
            'account', auth.account_json(a),
            'session', CASE WHEN v_session.session_id IS NOT NULL THEN
                         json_build_object('id', v_session.session_id, 'created_at', response.ts(v_session.created_at),
                                           'last_used', response.ts(v_session.last_used),
                                           'expires_at', response.ts(v_session.expiry_time)) END,
            'identity', CASE WHEN v_session.session_id IS NULL THEN 'proxy' ELSE 'token' END)
            FROM auth.accounts a WHERE a.id = v_session.account_id);
END
$$;

-- DELETE /session : 204, the presented token is deleted. Logs INFO 'logged out'.
-- A proxy-asserted identity has no session to end: 409 CONFLICT (the
-- proxy, not this API, decides when its users are signed in).
CREATE OR REPLACE FUNCTION api.logout(ctx request.context)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  IF v_session.session_id IS NULL THEN
    PERFORM response.raise(409, 'CONFLICT', 'this request is identified by the proxy, not a session: there is nothing to log out');
  END IF;
  DELETE FROM auth.account_sessions s WHERE s.id = v_session.session_id;
  PERFORM audit.write('INFO', 'auth', 'logged out', v_session.account_id,
                      jsonb_build_object('session_id', v_session.session_id), ctx);
  RETURN NULL;
END
$$;

-- GET /sessions : 200 {"sessions": [...]}, newest first; never a token or digest.
-- For a proxy-asserted identity: the account's token sessions, none current.
CREATE OR REPLACE FUNCTION api.list_sessions(ctx request.context)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  RETURN json_build_object('sessions', coalesce(
    (SELECT json_agg(json_build_object(
              'id', s.id, 'browser_info', s.browser_info, 'ip_address', host(s.ip_address),
              'created_at', response.ts(s.created_at), 'last_used', response.ts(s.last_used),
              'expires_at', response.ts(s.expiry_time), 'current', s.id IS NOT DISTINCT FROM v_session.session_id)
            ORDER BY s.created_at DESC, s.id DESC)
       FROM auth.account_sessions s
      WHERE s.account_id = v_session.account_id AND s.expiry_time > now()),
    '[]'));
END
$$;

-- DELETE /sessions/{id} : 204; 404 unless the session is the caller's.
-- Logs INFO 'session revoked'.
CREATE OR REPLACE FUNCTION api.revoke_session(ctx request.context, id bigint)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  DELETE FROM auth.account_sessions s WHERE s.id = revoke_session.id AND s.account_id = v_session.account_id;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', 'no such session');
  END IF;
  PERFORM audit.write('INFO', 'auth', 'session revoked', v_session.account_id,
                      jsonb_build_object('session_id', revoke_session.id), ctx);
  RETURN NULL;
END
$$;

-- DELETE /sessions : 204; every session of the caller but the current one
-- (every one, for a proxy-asserted identity, which has none).
-- Logs INFO 'other sessions revoked' with their number.
CREATE OR REPLACE FUNCTION api.revoke_other_sessions(ctx request.context)
RETURNS json
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_session record;
  v_count integer;
BEGIN
  v_session := auth.check_session(ctx);
  IF v_session.message <> 'OK' THEN RETURN auth.session_failure(v_session.message); END IF;

  DELETE FROM auth.account_sessions s
   WHERE s.account_id = v_session.account_id AND s.id IS DISTINCT FROM v_session.session_id;
  GET DIAGNOSTICS v_count = ROW_COUNT;
  PERFORM audit.write('INFO', 'auth', 'other sessions revoked', v_session.account_id,
                      jsonb_build_object('count', v_count), ctx);
  RETURN NULL;
END
$$;
