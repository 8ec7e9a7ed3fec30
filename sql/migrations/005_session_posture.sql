-- Session posture (OWASP ASVS 5.0 V7): an inactivity timeout beside the
-- absolute one (7.3.1), and accounts a DBA can disable (7.4.2).
--
-- The functions that apply them are code: auth.check_session,
-- auth.disable_account and auth.enable_account in sql/code/auth.sql.

-- Settings of the session check; one row. A table the owner alone may
-- change, like audit.settings: the gateway's password must not be enough to
-- keep idle sessions alive.
CREATE TABLE auth.settings (
  only_one             boolean PRIMARY KEY DEFAULT true CHECK (only_one),
  session_idle_timeout interval NOT NULL DEFAULT interval '14 days',
  CONSTRAINT settings_session_idle_timeout_check CHECK (session_idle_timeout >= interval '5 minutes')
);
INSERT INTO auth.settings DEFAULT VALUES;
COMMENT ON TABLE auth.settings IS 'Session settings (one row): UPDATE auth.settings SET session_idle_timeout = ''7 days'';';

-- A change of the timeout is an audit event, as a retention change is.
CREATE FUNCTION auth.settings_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO audit.logs (level, source, message, details)
  VALUES ('WARN', 'auth', 'session idle timeout changed',
          jsonb_build_object('from', OLD.session_idle_timeout::text, 'to', NEW.session_idle_timeout::text,
                             'by', session_user));
  RETURN NULL;
END
$$;

CREATE TRIGGER settings_changed
  AFTER UPDATE ON auth.settings
  FOR EACH ROW WHEN (OLD.session_idle_timeout IS DISTINCT FROM NEW.session_idle_timeout)
  EXECUTE FUNCTION auth.settings_changed();

-- When a DBA disabled the account (auth.disable_account); NULL while enabled.
-- Nullable and without a default: adding it rewrites nothing.
ALTER TABLE auth.accounts ADD COLUMN disabled_at timestamptz;
COMMENT ON COLUMN auth.accounts.disabled_at IS 'Set by auth.disable_account: no login, no session; NULL while enabled.';

---- create above / drop below ----

ALTER TABLE auth.accounts DROP COLUMN disabled_at CASCADE;
DROP TRIGGER settings_changed ON auth.settings;
DROP FUNCTION auth.settings_changed();
-- CASCADE: the installed code package's functions that use the table go too.
DROP TABLE auth.settings CASCADE;
