-- Accounts, sessions and login throttling (schema auth).
--
-- The account-API seed's three DBA-facing functions live here with their
-- seed names and result words: check_user_availability, create_account_session,
-- check_session_token. Secrets: passwords are bcrypt hashes (cost 10, written
-- explicitly in auth.hash_password); session tokens are 256 random bits handed
-- out once, and only their SHA-256 digest is stored.

-- SQL-standard bodies (BEGIN ATOMIC / RETURN) bind names when created: resolve
-- citext's operators from ext now, or `=` would silently become text equality.
SET LOCAL search_path = pg_catalog, ext, pg_temp;

-- ============================================================================
-- Tables
-- ============================================================================

CREATE TABLE auth.accounts (
  id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  username         ext.citext NOT NULL,
  display_name     text NOT NULL,
  email            ext.citext NOT NULL,
  password_hash    text NOT NULL,
  role             text NOT NULL DEFAULT 'user',
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- Login tracking, as Flask-Security's "trackable" fields.
  login_count      integer NOT NULL DEFAULT 0,
  last_login_at    timestamptz,
  last_login_ip    inet,
  current_login_at timestamptz,
  current_login_ip inet,
  CONSTRAINT accounts_username_key UNIQUE (username),
  CONSTRAINT accounts_email_key UNIQUE (email),
  CONSTRAINT accounts_username_format CHECK (username::text ~ '^[A-Za-z0-9_.-]{3,32}$'),
  CONSTRAINT accounts_email_format CHECK (length(email::text) <= 254 AND email::text ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  CONSTRAINT accounts_display_name_length CHECK (length(display_name) BETWEEN 1 AND 64),
  CONSTRAINT accounts_role_check CHECK (role IN ('user', 'author', 'admin')),
  CONSTRAINT accounts_password_hash_bcrypt CHECK (password_hash ~ '^\$2[abxy]?\$[0-9]{2}\$')
);
COMMENT ON TABLE auth.accounts IS 'One row per user account; username and email are unique ignoring case.';

-- display_name defaults to the username (the account-API seed's trigger); an
-- empty display name also falls back to it.
CREATE FUNCTION auth.accounts_default_display_name() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  NEW.display_name := coalesce(nullif(btrim(NEW.display_name), ''), NEW.username::text);
  RETURN NEW;
END
$$;

CREATE TRIGGER accounts_default_display_name
  BEFORE INSERT OR UPDATE OF display_name, username ON auth.accounts
  FOR EACH ROW EXECUTE FUNCTION auth.accounts_default_display_name();

CREATE TABLE auth.account_sessions (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  account_id   bigint NOT NULL REFERENCES auth.accounts ON DELETE CASCADE,
  token_digest bytea NOT NULL,
  browser_info text NOT NULL DEFAULT '',
  ip_address   inet,
  created_at   timestamptz NOT NULL DEFAULT now(),
  -- Absolute expiry, 30 days after creation; in hours, so that a daylight
  -- saving change in the session's TimeZone cannot make it 30 days ± 1 hour.
  expiry_time  timestamptz NOT NULL DEFAULT now() + interval '720 hours',
  -- Refreshed at most once a minute (see auth.check_session).
  last_used    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT account_sessions_token_digest_key UNIQUE (token_digest),
  CONSTRAINT account_sessions_token_digest_sha256 CHECK (octet_length(token_digest) = 32)
);
CREATE INDEX account_sessions_account_id_idx ON auth.account_sessions (account_id);
CREATE INDEX account_sessions_expiry_time_idx ON auth.account_sessions (expiry_time);
COMMENT ON TABLE auth.account_sessions IS 'Session tokens, stored as SHA-256 digests; a token is bound to the browser that created it.';

-- Failed logins per key in a fixed window. Keys: 'account:<id>' for a known
-- account, 'login:<sha256 of the lowercased login>' for an unknown one (so a
-- password typed into the login field is not kept), 'ip:<address>'.
CREATE TABLE auth.login_failures (
  key          text PRIMARY KEY,
  failures     integer NOT NULL,
  window_start timestamptz NOT NULL
);
COMMENT ON TABLE auth.login_failures IS 'Failed-login counters behind the 429 RATE_LIMITED answer of POST /sessions.';

-- ============================================================================
-- Secrets
-- ============================================================================

-- bcrypt with an explicit cost (pgcrypto's default is 6). Raising the cost
-- here also needs a new auth.dummy_password_hash of the same cost.
CREATE FUNCTION auth.hash_password(password text) RETURNS text
LANGUAGE sql VOLATILE
RETURN ext.crypt(password, ext.gen_salt('bf', 10));

-- A bcrypt hash of the same cost that matches no password: login compares
-- against it when the account does not exist, so that an unknown login costs
-- as much time as a wrong password.
CREATE FUNCTION auth.dummy_password_hash() RETURNS text
LANGUAGE sql IMMUTABLE
RETURN '$2a$10$1PlCnrKMqj1OeHX83Iuh5uZfICzSDQiuo49Qn9Ba5D9pn3vwXxQ4K';

-- bcrypt only reads 72 bytes; a longer candidate must not match a hash made
-- from its first 72 (signup refuses longer passwords). Never NULL: a missing
-- hash or password is false, after the same bcrypt work.
CREATE FUNCTION auth.password_matches(password text, hash text) RETURNS boolean
LANGUAGE sql VOLATILE
RETURN coalesce(ext.crypt(password, coalesce(hash, auth.dummy_password_hash())) = hash
                AND octet_length(password) <= 72, false);

-- 256 random bits, base64url without padding (43 characters).
CREATE FUNCTION auth.new_token() RETURNS text
LANGUAGE sql VOLATILE
RETURN rtrim(translate(encode(ext.gen_random_bytes(32), 'base64'), '+/', '-_'), '=');

CREATE FUNCTION auth.token_digest(token text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN sha256(convert_to(token, 'UTF8'));

-- ============================================================================
-- The account-API seed's functions
-- ============================================================================

-- USERNAME if the username is taken, else EMAIL if the e-mail is, else OK.
CREATE FUNCTION auth.check_user_availability(username text, email text) RETURNS text
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT CASE
           WHEN EXISTS (SELECT 1 FROM auth.accounts a WHERE a.username = check_user_availability.username::ext.citext) THEN 'USERNAME'
           WHEN EXISTS (SELECT 1 FROM auth.accounts a WHERE a.email = check_user_availability.email::ext.citext) THEN 'EMAIL'
           ELSE 'OK'
         END;
END;

-- Creates a session for an existing account and returns its token (the only
-- time the token exists outside the client). Replaces the previous session of
-- the same device (account + browser + IP); other devices keep theirs.
-- Not callable by the gateway: it would mint a session without a password.
CREATE FUNCTION auth.create_account_session(username text, browser_info text, ip_address inet DEFAULT NULL)
RETURNS text
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_account_id bigint;
  v_token text := auth.new_token();
BEGIN
  SELECT a.id INTO v_account_id FROM auth.accounts a WHERE a.username = create_account_session.username::citext;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', format('account %s does not exist', username));
  END IF;

  DELETE FROM auth.account_sessions s
   WHERE s.account_id = v_account_id
     AND s.browser_info = coalesce(create_account_session.browser_info, '')
     AND s.ip_address IS NOT DISTINCT FROM create_account_session.ip_address;

  INSERT INTO auth.account_sessions (account_id, token_digest, browser_info, ip_address)
  VALUES (v_account_id, auth.token_digest(v_token), coalesce(browser_info, ''), ip_address);
  RETURN v_token;
END
$$;

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

-- ============================================================================
-- Validation and JSON
-- ============================================================================

-- Per-field problems with a signup or account change, as {"field": "reason"};
-- empty when all is well. NULL arguments are not checked (callers decide
-- what is required).
CREATE FUNCTION auth.account_problems(username text, email text, password text, display_name text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'username', CASE WHEN username !~ '^[A-Za-z0-9_.-]{3,32}$'
                     THEN 'must be 3 to 32 letters, digits, "_", "." or "-"' END,
    'email', CASE WHEN length(email) > 254 THEN 'must be at most 254 characters'
                  WHEN email !~ '^[^@[:space:]]+@[^@[:space:]]+$' THEN 'must be an e-mail address with one "@"' END,
    'password', CASE WHEN octet_length(password) < 8 THEN 'must be at least 8 bytes'
                     WHEN octet_length(password) > 72 THEN 'must be at most 72 bytes' END,
    'display_name', CASE WHEN length(display_name) > 64 THEN 'must be at most 64 characters' END));
END;

-- The account JSON of API.md.
CREATE FUNCTION auth.account_json(a auth.accounts) RETURNS json
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT json_build_object('id', a.id, 'username', a.username, 'display_name', a.display_name,
                           'email', a.email, 'role', a.role, 'created_at', response.ts(a.created_at));
END;

-- The 401 answer for a failed session check. Returned, not raised: an EXPIRED
-- or BROWSER session has just been deleted, and that must be committed.
CREATE FUNCTION auth.session_failure(message text) RETURNS json
LANGUAGE sql VOLATILE
BEGIN ATOMIC
  SELECT response.fail(401, message, CASE message
           WHEN 'EXPIRED' THEN 'the session has expired; log in again'
           WHEN 'BROWSER' THEN 'the session belongs to another browser and has been revoked'
           ELSE 'the session token is not valid' END);
END;

-- ============================================================================
-- Login throttling
-- ============================================================================

CREATE FUNCTION auth.throttle_window() RETURNS interval
LANGUAGE sql IMMUTABLE RETURN interval '15 minutes';

-- Failures allowed in one window: few per account, more per IP (a shared NAT
-- hides many people).
CREATE FUNCTION auth.throttle_limit(key text) RETURNS integer
LANGUAGE sql IMMUTABLE
RETURN CASE WHEN key LIKE 'ip:%' THEN 20 ELSE 5 END;

-- Seconds until the most constrained of these keys may try again; 0 if none is blocked.
CREATE FUNCTION auth.throttle_retry_after(keys text[]) RETURNS integer
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT coalesce(max(ceil(extract(epoch FROM f.window_start + auth.throttle_window() - now())))::integer, 0)
    FROM auth.login_failures f
   WHERE f.key = ANY (keys)
     AND f.failures >= auth.throttle_limit(f.key)
     AND f.window_start + auth.throttle_window() > now();
END;

-- Counts one failure against each key, opening a new window when the last has passed.
CREATE FUNCTION auth.throttle_record_failure(keys text[]) RETURNS void
LANGUAGE sql VOLATILE
BEGIN ATOMIC
  INSERT INTO auth.login_failures AS f (key, failures, window_start)
  SELECT k, 1, now() FROM unnest(keys) AS k WHERE k IS NOT NULL
  ON CONFLICT (key) DO UPDATE
    SET failures = CASE WHEN f.window_start + auth.throttle_window() <= now() THEN 1 ELSE f.failures + 1 END,
        window_start = CASE WHEN f.window_start + auth.throttle_window() <= now() THEN now() ELSE f.window_start END;
END;

CREATE FUNCTION auth.throttle_keys(account_id bigint, login text, ip inet) RETURNS text[]
LANGUAGE sql IMMUTABLE
RETURN ARRAY[
  CASE WHEN account_id IS NOT NULL THEN 'account:' || account_id
       ELSE 'login:' || encode(sha256(convert_to(lower(coalesce(login, '')), 'UTF8')), 'hex') END,
  'ip:' || host(ip)];

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

---- create above / drop below ----

DROP FUNCTION auth.verify_password(text[], text, text, text);

DROP FUNCTION auth.throttle_keys(bigint, text, inet);
DROP FUNCTION auth.throttle_record_failure(text[]);
DROP FUNCTION auth.throttle_retry_after(text[]);
DROP FUNCTION auth.throttle_limit(text);
DROP FUNCTION auth.throttle_window();
DROP FUNCTION auth.session_failure(text);
DROP FUNCTION auth.account_json(auth.accounts);
DROP FUNCTION auth.account_problems(text, text, text, text);
DROP FUNCTION auth.check_session_token(text, text);
DROP FUNCTION auth.check_session(text, text);
DROP FUNCTION auth.create_account_session(text, text, inet);
DROP FUNCTION auth.check_user_availability(text, text);
DROP FUNCTION auth.token_digest(text);
DROP FUNCTION auth.new_token();
DROP FUNCTION auth.password_matches(text, text);
DROP FUNCTION auth.dummy_password_hash();
DROP FUNCTION auth.hash_password(text);
DROP TABLE auth.login_failures;
DROP TABLE auth.account_sessions;
DROP TABLE auth.accounts;
DROP FUNCTION auth.accounts_default_display_name();
