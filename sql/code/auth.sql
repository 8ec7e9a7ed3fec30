-- ============================================================================
-- auth: accounts, sessions and login throttling (tables: sql/migrations/002_auth.sql)
-- ============================================================================
-- The account-API seed's three DBA-facing functions live here with their
-- seed names and result words: check_user_availability, create_account_session,
-- check_session_token. Secrets: passwords are bcrypt hashes (cost 10, written
-- explicitly in auth.hash_password); session tokens are 256 random bits handed
-- out once, and only their SHA-256 digest is stored.

-- ----------------------------------------------------------------------------
-- Secrets
-- ----------------------------------------------------------------------------

-- bcrypt with an explicit cost (pgcrypto's default is 6). Raising the cost
-- here also needs a new auth.dummy_password_hash of the same cost.
CREATE OR REPLACE FUNCTION auth.hash_password(password text) RETURNS text
LANGUAGE sql VOLATILE
RETURN ext.crypt(password, ext.gen_salt('bf', 10));

-- A bcrypt hash of the same cost that matches no password: login compares
-- against it when the account does not exist, so that an unknown login costs
-- as much time as a wrong password.
CREATE OR REPLACE FUNCTION auth.dummy_password_hash() RETURNS text
LANGUAGE sql IMMUTABLE
RETURN '$2a$10$1PlCnrKMqj1OeHX83Iuh5uZfICzSDQiuo49Qn9Ba5D9pn3vwXxQ4K';

-- bcrypt only reads 72 bytes; a longer candidate must not match a hash made
-- from its first 72 (signup refuses longer passwords), and is refused before
-- bcrypt sees it: a 1 MiB password costs a length check, not a copy into
-- crypt. Never NULL: a missing hash or password is false, after the same
-- bcrypt work.
CREATE OR REPLACE FUNCTION auth.password_matches(password text, hash text) RETURNS boolean
LANGUAGE sql VOLATILE
RETURN CASE WHEN octet_length(password) > 72 THEN false
            ELSE coalesce(ext.crypt(password, coalesce(hash, auth.dummy_password_hash())) = hash, false) END;

-- 256 random bits, base64url without padding (43 characters).
CREATE OR REPLACE FUNCTION auth.new_token() RETURNS text
LANGUAGE sql VOLATILE
RETURN rtrim(translate(encode(ext.gen_random_bytes(32), 'base64'), '+/', '-_'), '=');

CREATE OR REPLACE FUNCTION auth.token_digest(token text) RETURNS bytea
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN sha256(convert_to(token, 'UTF8'));

-- ----------------------------------------------------------------------------
-- The account-API seed's functions, and the session check
-- ----------------------------------------------------------------------------

-- USERNAME if the username is taken, else EMAIL if the e-mail is, else OK.
-- A username longer than 32 characters or an e-mail longer than 254 cannot
-- be taken (the table's checks): it is not looked up, so a 1 MiB query
-- parameter costs a length check, not an index search with a 1 MiB key.
CREATE OR REPLACE FUNCTION auth.check_user_availability(username text, email text) RETURNS text
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT CASE
           WHEN CASE WHEN length(check_user_availability.username) > 32 THEN false
                     ELSE EXISTS (SELECT 1 FROM auth.accounts a WHERE a.username = check_user_availability.username::ext.citext) END
             THEN 'USERNAME'
           WHEN CASE WHEN length(check_user_availability.email) > 254 THEN false
                     ELSE EXISTS (SELECT 1 FROM auth.accounts a WHERE a.email = check_user_availability.email::ext.citext) END
             THEN 'EMAIL'
           ELSE 'OK'
         END;
END;

-- Creates a session for an existing account and returns its token (the only
-- time the token exists outside the client). Replaces the previous session of
-- the same device (account + browser + IP); other devices keep theirs.
-- Not callable by the gateway: it would mint a session without a password.
CREATE OR REPLACE FUNCTION auth.create_account_session(username text, browser_info text, ip_address inet DEFAULT NULL)
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

-- Whether this connection's login may assert identities (ctx.proxy_user):
-- a member of the role gateway_proxy (created by the scripts'
-- bootstrap_roles, like gateway; sql/migrations/010_proxy_identity.sql).
-- session_user, not current_user: every api function is SECURITY DEFINER,
-- so current_user is the owner. False when the role does not exist.
CREATE OR REPLACE FUNCTION auth.proxy_trusted() RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
BEGIN ATOMIC
  SELECT EXISTS (SELECT 1 FROM pg_roles r
                  WHERE r.rolname = 'gateway_proxy' AND pg_has_role(session_user, r.oid, 'MEMBER'));
END;

-- Who the request is, from its context: the one place every api function
-- that needs a user asks (then auth.session_failure on anything but OK).
--
-- A proxy-asserted identity (ctx.proxy_user, not NULL) wins over any token.
-- It is believed only from a login that auth.proxy_trusted() (a member of
-- gateway_proxy): from any other, such as the ordinary gateway role, the
-- request is INVALID and the attempt is logged (WARN 'proxy identity
-- refused'), so holding the gateway's password is still not enough to act
-- as a user. A trusted name that is no enabled account is PROXY_USER (a 401
-- INVALID, not logged: nginx has already checked the password, and a name
-- in its password file without an account is a matter of configuration).
-- Otherwise OK with account_id and no session: session_id, created_at,
-- last_used and expiry_time are NULL, and the functions about sessions say
-- what that means for them. It also sets the transaction-local setting
-- auth.proxy_identity, which the audit triggers of 010_proxy_identity.sql
-- read to log every change the request makes, and audit.write to mark its
-- rows; a token request clears it.
--
-- With a token: the session behind it, checked against the browser that
-- presents it. message: INVALID (unknown token), EXPIRED (past its absolute
-- expiry, or unused for auth.settings.session_idle_timeout) and BROWSER (the
-- session is deleted and the drop logged as WARN; the caller must not roll
-- that back), or OK, with the session's columns. On OK, last_used is
-- refreshed if it is more than a minute old: a write on every check would cap
-- throughput at the commit rate (each commit waits for fsync), while a
-- read-only check commits without touching the WAL. So the idle timeout is
-- exact to a minute: a session used 30 seconds after its last refresh still
-- counts as idle from that refresh.
CREATE OR REPLACE FUNCTION auth.check_session(ctx request.context,
  OUT message text, OUT session_id bigint, OUT account_id bigint,
  OUT created_at timestamptz, OUT last_used timestamptz, OUT expiry_time timestamptz)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v auth.account_sessions;
BEGIN
  PERFORM set_config('auth.proxy_identity', '', true), set_config('auth.proxy_audit_id', '', true);
  IF ctx.proxy_user IS NOT NULL THEN
    IF NOT auth.proxy_trusted() THEN
      PERFORM audit.write('WARN', 'auth', 'proxy identity refused', NULL,
                          jsonb_build_object('reason', 'the database role is not a member of gateway_proxy',
                                             'by', session_user, 'proxy_user', left(ctx.proxy_user, 64)), ctx);
      message := 'INVALID';
      RETURN;
    END IF;
    SELECT a.id INTO account_id FROM auth.accounts a
     WHERE a.username OPERATOR(ext.=) ctx.proxy_user::ext.citext AND a.disabled_at IS NULL;
    IF account_id IS NULL THEN
      message := 'PROXY_USER';
      RETURN;
    END IF;
    PERFORM set_config('auth.proxy_identity',
                       json_build_object('account_id', account_id, 'proxy_user', ctx.proxy_user,
                                         'ip', host(ctx.ip), 'request_id', ctx.request_id)::text, true);
    message := 'OK';
    RETURN;
  END IF;
  -- Tokens are 43 characters (auth.new_token): a much longer one is neither
  -- hashed nor looked up.
  IF octet_length(ctx.token) > 64 THEN
    message := 'INVALID';
    RETURN;
  END IF;
  SELECT * INTO v FROM auth.account_sessions s WHERE s.token_digest = auth.token_digest(ctx.token);
  IF NOT FOUND THEN
    message := 'INVALID';
    RETURN;
  ELSIF v.expiry_time <= now() THEN
    DELETE FROM auth.account_sessions s WHERE s.id = v.id;
    PERFORM audit.write('WARN', 'auth', 'session dropped: expired', v.account_id,
                        jsonb_build_object('session_id', v.id, 'expired_at', response.ts(v.expiry_time)), ctx);
    message := 'EXPIRED';
    RETURN;
  ELSIF v.last_used <= now() - (SELECT st.session_idle_timeout FROM auth.settings st) THEN
    DELETE FROM auth.account_sessions s WHERE s.id = v.id;
    PERFORM audit.write('WARN', 'auth', 'session dropped: idle', v.account_id,
                        jsonb_build_object('session_id', v.id, 'last_used', response.ts(v.last_used)), ctx);
    message := 'EXPIRED';
    RETURN;
  ELSIF v.browser_info IS DISTINCT FROM coalesce(ctx.browser, '') THEN
    DELETE FROM auth.account_sessions s WHERE s.id = v.id;
    PERFORM audit.write('WARN', 'auth', 'session dropped: browser changed', v.account_id,
                        jsonb_build_object('session_id', v.id, 'session_browser', v.browser_info,
                                           'browser', coalesce(ctx.browser, '')), ctx);
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
CREATE OR REPLACE FUNCTION auth.check_session_token(session_token text, browser_info text)
RETURNS TABLE (message text, account_id bigint, username text, email text, created_at timestamptz)
LANGUAGE sql
BEGIN ATOMIC
  SELECT c.message, a.id, a.username::text, a.email::text, a.created_at
    FROM auth.check_session(request.context(token => session_token, browser => browser_info)) c
    LEFT JOIN auth.accounts a ON a.id = c.account_id;
END;

-- ----------------------------------------------------------------------------
-- Roles: a DBA's decision
-- ----------------------------------------------------------------------------

-- Sets an account's role (user, author or admin) and answers {"username",
-- "from", "to"}: `scripts/db role USERNAME ROLE` calls it, so a fresh
-- install gets its first admin without hand-written SQL. No route reaches
-- it and the gateway may not execute it. The change is logged by the
-- trigger accounts_role_changed (sql/migrations/003_audit.sql: INFO 'role
-- changed', with from, to and "by", the database user who called this),
-- like any role change;
-- setting the role an account already has changes and logs nothing. An
-- unknown account is a 404 NOT_FOUND, an unknown role a 422 VALIDATION.
CREATE OR REPLACE FUNCTION auth.set_role(username text, role text) RETURNS json
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_before auth.accounts;
BEGIN
  IF set_role.role IS NULL OR set_role.role NOT IN ('user', 'author', 'admin') THEN
    PERFORM response.raise(422, 'VALIDATION', format('role %s does not exist; use user, author or admin', set_role.role),
                           '{"role": "must be one of user, author, admin"}');
  END IF;
  SELECT * INTO v_before FROM auth.accounts a WHERE a.username = set_role.username::citext FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', format('account %s does not exist', set_role.username));
  END IF;
  UPDATE auth.accounts a SET role = set_role.role WHERE a.id = v_before.id;
  RETURN json_build_object('username', v_before.username, 'from', v_before.role, 'to', set_role.role);
END
$$;

-- ----------------------------------------------------------------------------
-- Validation and JSON
-- ----------------------------------------------------------------------------

-- Per-field problems with a signup or account change, as {"field": "reason"};
-- empty when all is well. NULL arguments are not checked (callers decide
-- what is required).
CREATE OR REPLACE FUNCTION auth.account_problems(username text, email text, password text, display_name text)
RETURNS jsonb
LANGUAGE sql IMMUTABLE
BEGIN ATOMIC
  SELECT jsonb_strip_nulls(jsonb_build_object(
    -- Lengths before patterns: a huge value costs a length check.
    'username', CASE WHEN length(username) > 32 THEN 'must be 3 to 32 letters, digits, "_", "." or "-"'
                     WHEN username !~ '^[A-Za-z0-9_.-]{3,32}$'
                     THEN 'must be 3 to 32 letters, digits, "_", "." or "-"' END,
    'email', CASE WHEN length(email) > 254 THEN 'must be at most 254 characters'
                  WHEN email !~ '^[^@[:space:]]+@[^@[:space:]]+$' THEN 'must be an e-mail address with one "@"' END,
    'password', CASE WHEN octet_length(password) < 8 THEN 'must be at least 8 bytes'
                     WHEN octet_length(password) > 72 THEN 'must be at most 72 bytes' END,
    'display_name', CASE WHEN length(display_name) > 64 THEN 'must be at most 64 characters' END));
END;

-- The account JSON of docs/api.md.
CREATE OR REPLACE FUNCTION auth.account_json(a auth.accounts) RETURNS json
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT json_build_object('id', a.id, 'username', a.username, 'display_name', a.display_name,
                           'email', a.email, 'role', a.role, 'created_at', response.ts(a.created_at),
                           'email_confirmed_at', response.ts(a.email_confirmed_at), 'pending_email', a.pending_email);
END;

-- The 401 answer for a failed session check. Returned, not raised: an EXPIRED
-- or BROWSER session has just been deleted, and that must be committed.
-- PROXY_USER (auth.check_session) answers the code INVALID, as an unknown
-- token does, with a message of its own.
CREATE OR REPLACE FUNCTION auth.session_failure(message text) RETURNS json
LANGUAGE sql VOLATILE
BEGIN ATOMIC
  SELECT response.fail(401, CASE message WHEN 'PROXY_USER' THEN 'INVALID' ELSE message END, CASE message
           WHEN 'EXPIRED' THEN 'the session has expired; log in again'
           WHEN 'BROWSER' THEN 'the session belongs to another browser and has been revoked'
           WHEN 'PROXY_USER' THEN 'the user the proxy names is not an enabled account'
           ELSE 'the session token is not valid' END);
END;

-- ----------------------------------------------------------------------------
-- Rate limits: one table of counters, one function that counts
-- ----------------------------------------------------------------------------
-- Every limit is a row of auth.rate_limits (sql/migrations/011_rate_limits.sql:
-- name, max_hits per `per`, and what a right password does to its count).
-- A counter is a row of auth.login_failures keyed '<limit>:<subject>', with
-- the attempts of its current fixed window (column failures) and the
-- window's start. Subjects: 'ip:<address>' (auth.ip_subject),
-- 'account:<id>' or 'login:<sha256 hex of the lowercased login>' for an
-- unknown login (auth.login_subject: never the text typed, which may be a
-- password), and the two joined by a space for the account-and-address
-- failure block.

-- No limit's window is longer than a day (auth.rate_limits' check
-- rate_limits_per_check), so a counter whose window opened a day ago is
-- stale whatever its limit: api.maintenance deletes those. A constant, not
-- a read of the limits, since maintenance calls it for every counter.
CREATE OR REPLACE FUNCTION auth.throttle_window() RETURNS interval
LANGUAGE sql IMMUTABLE
RETURN interval '1 day';

-- The key of one limit for one subject; NULL when there is no subject (a
-- call without a client IP, from psql), which auth.rate_count skips.
CREATE OR REPLACE FUNCTION auth.rate_key(limit_name text, subject text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN limit_name || ':' || subject;

CREATE OR REPLACE FUNCTION auth.ip_subject(ip inet) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN 'ip:' || host(ip);

-- A known account by its id; an unknown login by a digest of it, so that
-- unknown and known logins are limited alike and the log never holds what
-- was typed.
CREATE OR REPLACE FUNCTION auth.login_subject(account_id bigint, login text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN CASE WHEN account_id IS NOT NULL THEN 'account:' || account_id
            ELSE 'login:' || encode(sha256(convert_to(lower(coalesce(login, '')), 'UTF8')), 'hex') END;

-- The keys of a password check: a login's (account or unknown login,
-- client IP) and a password change's or account deletion's (the session's
-- account, client IP). Logins: every attempt per IP and per account (the
-- account-wide key slows, with a one-minute window: it never locks anyone
-- out for long), failures per account and IP (the hard block: only for that
-- address), failures per IP (spraying one password over many accounts).
-- A password change or deletion comes with a session of the account: it
-- has a key of its own, so failed logins of others never refuse it.
CREATE OR REPLACE FUNCTION auth.login_keys(account_id bigint, login text, ip inet) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY[auth.rate_key('bcrypt_ip', auth.ip_subject(ip)),
             auth.rate_key('login_account', auth.login_subject(account_id, login)),
             auth.rate_key('login_failures', auth.login_subject(account_id, login) || ' ' || coalesce(auth.ip_subject(ip), 'ip:-')),
             auth.rate_key('login_failures_ip', auth.ip_subject(ip))];

CREATE OR REPLACE FUNCTION auth.password_keys(account_id bigint, ip inet) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ARRAY[auth.rate_key('bcrypt_ip', auth.ip_subject(ip)),
             auth.rate_key('password_account', auth.login_subject(account_id, NULL))];

-- Counts one attempt against each key (NULL keys skipped) and raises 429
-- RATE_LIMITED, details.retry_after = seconds until the most constrained
-- key past its limit opens a new window, when this attempt is past any
-- limit. The raise rolls every count of the attempt back: a refused attempt
-- costs one row lock per key and changes nothing.
--
-- Callers count before the work they limit (bcrypt, the lookup of an
-- address), never after: the increment is an INSERT … ON CONFLICT DO UPDATE
-- that takes the counter's row lock until the caller's transaction ends, so
-- concurrent attempts on one key count one after the other and each sees
-- the count of those before it: N parallel guesses get at most max_hits
-- tries, not N. Keys are counted in sorted order, so two attempts sharing
-- keys cannot deadlock. A key whose limit does not exist is a bug: raised.
CREATE OR REPLACE FUNCTION auth.rate_count(keys text[]) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key text;
  v_limit auth.rate_limits;
  v_hits integer;
  v_start timestamptz;
  v_retry integer := 0;
BEGIN
  FOR v_key IN SELECT DISTINCT k FROM unnest(keys) AS k WHERE k IS NOT NULL ORDER BY k LOOP
    SELECT * INTO v_limit FROM auth.rate_limits l WHERE l.name = split_part(v_key, ':', 1);
    IF NOT FOUND THEN
      RAISE EXCEPTION 'auth.rate_count: no rate limit named %', split_part(v_key, ':', 1);
    END IF;
    INSERT INTO auth.login_failures AS f (key, failures, window_start) VALUES (v_key, 1, now())
    ON CONFLICT (key) DO UPDATE
      SET failures = CASE WHEN f.window_start + v_limit.per <= now() THEN 1 ELSE f.failures + 1 END,
          window_start = CASE WHEN f.window_start + v_limit.per <= now() THEN now() ELSE f.window_start END
    RETURNING f.failures, f.window_start INTO v_hits, v_start;
    IF v_hits > v_limit.max_hits THEN
      v_retry := greatest(v_retry, 1, ceil(extract(epoch FROM v_start + v_limit.per - now()))::integer);
    END IF;
  END LOOP;
  IF v_retry > 0 THEN
    -- Not logged: the attempt that used the last try was, and a flood of
    -- refused attempts must not become a flood of log rows.
    PERFORM response.raise(429, 'RATE_LIMITED', 'too many attempts; try again later',
                           jsonb_build_object('retry_after', v_retry));
  END IF;
END
$$;

-- The limits (by name, sorted) among these keys that have no attempt left
-- in their current window, and the seconds until the last of them opens a
-- new one: what the log says when an attempt used the last try.
CREATE OR REPLACE FUNCTION auth.rate_exhausted(keys text[], OUT limits text[], OUT retry_after integer)
LANGUAGE sql STABLE
BEGIN ATOMIC
  SELECT array_agg(DISTINCT l.name ORDER BY l.name),
         max(ceil(extract(epoch FROM f.window_start + l.per - now())))::integer
    FROM auth.login_failures f
    JOIN auth.rate_limits l ON l.name = split_part(f.key, ':', 1)
   WHERE f.key = ANY (keys) AND f.failures >= l.max_hits AND f.window_start + l.per > now();
END;

-- The rate-limited password check of login, password change and account
-- deletion (`action` names which, for the log). Counts the attempt against
-- every key first (auth.rate_count: 429 RATE_LIMITED, raised, past any
-- limit), then runs bcrypt. A NULL hash (a disabled account's, as login
-- passes it, or an unknown login's) fails like a wrong password, after the
-- same bcrypt work. A wrong password logs WARN '<action> failed' (and WARN
-- '<action> throttled', naming the limits, when it used the last try of
-- one) and returns the 401 body for the caller to return (response.fail:
-- the counts and the log must be committed). The right password returns
-- NULL, after undoing what the failure counts counted before the check:
-- limits whose `success` is 'clears' start over, 'refunded' ones get the
-- attempt back, 'counts' ones keep it.
CREATE OR REPLACE FUNCTION auth.verify_password(ctx request.context, keys text[], password text, hash text,
                                                failure_message text, action text, account_id bigint)
RETURNS json
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_exhausted record;
BEGIN
  PERFORM auth.rate_count(keys);
  IF NOT auth.password_matches(password, hash) THEN
    PERFORM audit.write('WARN', 'auth', action || ' failed', account_id,
                        jsonb_build_object('reason', CASE WHEN account_id IS NULL THEN 'unknown login'
                                                          WHEN hash IS NULL THEN 'account disabled'
                                                          ELSE 'wrong password' END), ctx);
    -- By limit name only: a login key holds a digest of what was typed.
    v_exhausted := auth.rate_exhausted(keys);
    IF v_exhausted.limits IS NOT NULL THEN
      PERFORM audit.write('WARN', 'auth', action || ' throttled', account_id,
                          jsonb_build_object('keys', v_exhausted.limits, 'retry_after', v_exhausted.retry_after), ctx);
    END IF;
    RETURN response.fail(401, 'INVALID_CREDENTIALS', failure_message);
  END IF;
  DELETE FROM auth.login_failures f
   USING auth.rate_limits l
   WHERE f.key = ANY (keys) AND l.name = split_part(f.key, ':', 1) AND l.success = 'clears';
  UPDATE auth.login_failures f SET failures = f.failures - 1
    FROM auth.rate_limits l
   WHERE f.key = ANY (keys) AND l.name = split_part(f.key, ':', 1) AND l.success = 'refunded' AND f.failures > 0;
  RETURN NULL;
END
$$;

-- ----------------------------------------------------------------------------
-- Disabling an account (DBA-facing; scripts/db disable|enable USERNAME)
-- ----------------------------------------------------------------------------

-- Disables an account: every session of it ends at once, and its logins are
-- refused with the same 401 as a wrong password (auth.verify_password), so a
-- disabled account looks like any failed login from outside. Logged with the
-- database user who did it. Not callable by the gateway. Answers the number
-- of sessions ended; disabling a disabled account changes nothing.
CREATE OR REPLACE FUNCTION auth.disable_account(username text) RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_account auth.accounts;
  v_sessions integer;
BEGIN
  SELECT * INTO v_account FROM auth.accounts a WHERE a.username = disable_account.username::citext FOR UPDATE;
  IF NOT FOUND THEN
    PERFORM response.raise(404, 'NOT_FOUND', format('account %s does not exist', username));
  END IF;
  DELETE FROM auth.account_sessions s WHERE s.account_id = v_account.id;
  GET DIAGNOSTICS v_sessions = ROW_COUNT;
  IF v_account.disabled_at IS NULL THEN
    UPDATE auth.accounts a SET disabled_at = now() WHERE a.id = v_account.id;
    PERFORM audit.write('WARN', 'auth', 'account disabled', v_account.id,
                        jsonb_build_object('sessions_ended', v_sessions, 'by', session_user));
  END IF;
  RETURN v_sessions;
END
$$;

-- Enables a disabled account again: its password works again (its old
-- sessions stay ended). Logged; enabling an enabled account changes nothing.
CREATE OR REPLACE FUNCTION auth.enable_account(username text) RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, ext, pg_temp
AS $$
DECLARE
  v_id bigint;
BEGIN
  UPDATE auth.accounts a SET disabled_at = NULL
   WHERE a.username = enable_account.username::citext AND a.disabled_at IS NOT NULL
  RETURNING a.id INTO v_id;
  IF v_id IS NOT NULL THEN
    PERFORM audit.write('INFO', 'auth', 'account enabled', v_id, jsonb_build_object('by', session_user));
  ELSIF NOT EXISTS (SELECT 1 FROM auth.accounts a WHERE a.username = enable_account.username::citext) THEN
    PERFORM response.raise(404, 'NOT_FOUND', format('account %s does not exist', username));
  END IF;
END
$$;
