-- The audit log: the tables of schema audit, and the triggers that log what
-- only a DBA changes (account roles, the log's retention).
--
-- The functions that change accounts and sessions write the log themselves
-- through audit.write (sql/code/audit.sql), in the same transaction as the
-- change: a row exists if and only if the change committed. No token,
-- digest, password or hash is ever written to the log.

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

-- The two triggers insert into audit.logs themselves rather than call
-- audit.write: a table's trigger must not depend on the code package, which
-- is replaced after every migration.

-- A retention change is itself an audit event.
CREATE FUNCTION audit.settings_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO audit.logs (level, source, message, details)
  VALUES ('WARN', 'audit', 'log retention changed',
          jsonb_build_object('from', OLD.log_retention::text, 'to', NEW.log_retention::text, 'by', session_user));
  RETURN NULL;
END
$$;

CREATE TRIGGER settings_changed
  AFTER UPDATE ON audit.settings
  FOR EACH ROW WHEN (OLD.log_retention IS DISTINCT FROM NEW.log_retention)
  EXECUTE FUNCTION audit.settings_changed();

-- Roles change by hand (psql) or by seed scripts, never through the API, so a
-- trigger catches every change, with the database user who made it.
CREATE FUNCTION audit.account_role_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  INSERT INTO audit.logs (level, source, message, account_id, details)
  VALUES ('INFO', 'auth', 'role changed', NEW.id,
          jsonb_build_object('from', OLD.role, 'to', NEW.role, 'by', session_user));
  RETURN NULL;
END
$$;

CREATE TRIGGER accounts_role_changed
  AFTER UPDATE OF role ON auth.accounts
  FOR EACH ROW WHEN (OLD.role IS DISTINCT FROM NEW.role)
  EXECUTE FUNCTION audit.account_role_changed();

---- create above / drop below ----

DROP TRIGGER accounts_role_changed ON auth.accounts;
DROP FUNCTION audit.account_role_changed();
DROP TRIGGER settings_changed ON audit.settings;
DROP FUNCTION audit.settings_changed();
DROP TABLE audit.settings;
-- CASCADE: the installed code package's functions that use the table go too.
DROP TABLE audit.logs CASCADE;
