-- Accounts, sessions and login throttling: the tables of schema auth.
--
-- The account-API seed's tables (accounts, account_sessions) with its
-- display-name trigger. The functions that use them (the seed's
-- check_user_availability, create_account_session, check_session_token, the
-- session check, throttling) are code: sql/code/auth.sql.
--
-- Secrets: password_hash holds bcrypt hashes only (a CHECK refuses anything
-- else); token_digest holds the SHA-256 of a session token, never the token.

-- citext's type and operators resolve from ext.
SET LOCAL search_path = pg_catalog, ext, pg_temp;

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
  -- Refreshed at most once a minute (see auth.check_session, sql/code/auth.sql).
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

---- create above / drop below ----

-- CASCADE: the installed code package's functions that take these row types go too.
DROP TABLE auth.login_failures CASCADE;
DROP TABLE auth.account_sessions CASCADE;
DROP TABLE auth.accounts CASCADE;
DROP FUNCTION auth.accounts_default_display_name();
