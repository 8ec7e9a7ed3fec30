-- Rate limits (issue 15, items 1, 2, 5, 6 and 10): every limit the API
-- enforces is one row of auth.rate_limits, and one function counts them all
-- (auth.rate_count, sql/code/auth.sql) in one table of counters keyed by
-- text, auth.login_failures (named when it held failed logins only; a
-- rename would break the code package in flight during a deploy).
--
-- A table, not constants in the code: a DBA (and a test database) can raise
-- or lower a limit with one UPDATE, and the owner alone may change it, as
-- with auth.settings: the gateway's password must not be enough to lift a
-- limit. Each change is an audit event.

CREATE TABLE auth.rate_limits (
  -- The first part of a counter's key, '<name>:<subject>'.
  name     text PRIMARY KEY,
  -- Attempts allowed in a fixed window of length `per`; past it, 429
  -- RATE_LIMITED until the window ends.
  max_hits integer NOT NULL,
  per      interval NOT NULL,
  -- What the right password does to the count (auth.verify_password):
  -- 'counts' (every attempt counts, successes too), 'refunded' (the attempt
  -- is taken back: only failures stay counted), 'clears' (the count starts
  -- over). Limits that no password check uses are 'counts'.
  success  text NOT NULL DEFAULT 'counts',
  what     text NOT NULL,
  CONSTRAINT rate_limits_name_format CHECK (name ~ '^[a-z][a-z_]{0,31}$'),
  CONSTRAINT rate_limits_max_hits_check CHECK (max_hits >= 1),
  -- At most a day: maintenance deems a counter stale a day after its window
  -- opened, whatever its limit (auth.throttle_window).
  CONSTRAINT rate_limits_per_check CHECK (per >= interval '1 second' AND per <= interval '1 day'),
  CONSTRAINT rate_limits_success_check CHECK (success IN ('counts', 'refunded', 'clears'))
);
INSERT INTO auth.rate_limits (name, max_hits, per, success, what) VALUES
  ('bcrypt_ip', 30, interval '1 minute', 'counts',
   'calls that run bcrypt (login, sign-up, password change, account deletion) per client IP'),
  ('login_account', 20, interval '1 minute', 'counts',
   'login attempts per account (or unknown login) from any IP: slows a distributed guesser for at most a minute, never locks out'),
  ('login_failures', 5, interval '15 minutes', 'clears',
   'failed logins per account (or unknown login) and client IP: the hard block, for that address only'),
  ('login_failures_ip', 20, interval '15 minutes', 'refunded',
   'failed logins per client IP, whatever the login (password spraying)'),
  ('password_account', 10, interval '1 hour', 'counts',
   'password changes and account deletions per account (the caller holds a session of it)'),
  ('availability_ip', 30, interval '1 minute', 'counts',
   'GET /availability per client IP: it tells whether a username or address is registered'),
  ('activity_account', 30, interval '1 minute', 'counts',
   'new activities and replies per account');
COMMENT ON TABLE auth.rate_limits IS
  'Rate limits, one row each (UPDATE auth.rate_limits SET max_hits = 60 WHERE name = ''bcrypt_ip''); counted by auth.rate_count in auth.login_failures.';

-- A changed limit is an audit event, as a changed session timeout is.
CREATE FUNCTION auth.rate_limits_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO audit.logs (level, source, message, details)
  VALUES ('WARN', 'auth', 'rate limit changed',
          jsonb_build_object('limit', NEW.name,
                             'from', jsonb_build_object('max_hits', OLD.max_hits, 'per', OLD.per::text, 'success', OLD.success),
                             'to', jsonb_build_object('max_hits', NEW.max_hits, 'per', NEW.per::text, 'success', NEW.success),
                             'by', session_user));
  RETURN NULL;
END
$$;

CREATE TRIGGER rate_limits_changed
  AFTER UPDATE ON auth.rate_limits
  FOR EACH ROW WHEN (OLD.max_hits IS DISTINCT FROM NEW.max_hits OR OLD.per IS DISTINCT FROM NEW.per
                     OR OLD.success IS DISTINCT FROM NEW.success)
  EXECUTE FUNCTION auth.rate_limits_changed();

COMMENT ON TABLE auth.login_failures IS
  'Counters of every rate limit (auth.rate_limits), one per key ''<limit>:<subject>''; failures is the attempts counted in the window.';

---- create above / drop below ----

COMMENT ON TABLE auth.login_failures IS 'Failed-login counters behind the 429 RATE_LIMITED answer of POST /sessions.';
DROP TRIGGER rate_limits_changed ON auth.rate_limits;
DROP FUNCTION auth.rate_limits_changed();
-- CASCADE: the installed code package's functions that use the table go too.
DROP TABLE auth.rate_limits CASCADE;
