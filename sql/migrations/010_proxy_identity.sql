-- The proxy-asserted identity: behind a reverse proxy that authenticates
-- users itself (nginx auth_basic, deploy/nginx/homebase-proxy-auth.conf),
-- the gateway may pass the user's name instead of a session token.
--
-- Trust lives in the database. auth.check_session (sql/code/auth.sql)
-- accepts the name only when the connection's login (session_user: the api
-- functions are SECURITY DEFINER, so current_user is the owner) is a member
-- of the role gateway_proxy. The ordinary gateway role is not, so holding
-- its password still does not let anyone act as a user without that user's
-- token. Roles are cluster-wide and outlive any one database: gateway_proxy
-- (a login role, member of gateway for its privileges) is created by the
-- scripts' bootstrap_roles (scripts/lib.sh) beside gateway, not here.
--
-- Every change a proxy-identified request makes is audit-logged: the
-- statement triggers below fire only while auth.check_session has set the
-- transaction-local setting auth.proxy_identity (the account, the name as
-- the proxy sent it, the client's IP and the request id), and write one
-- audit row per request (source 'proxy') listing what it changed.

-- The user name a trusted proxy asserts (the gateway's PROXY_USER_HEADER);
-- NULL for every other request. A context item, so one more attribute.
ALTER TYPE request.context ADD ATTRIBUTE proxy_user text;

-- One audit row per proxy-identified request that changes something: the
-- first changing statement writes it, the next ones add their change to
-- details.changes ("INSERT tracking.logs", ...). The row id is kept in the
-- transaction-local setting auth.proxy_audit_id (auth.check_session clears
-- it with each request). Trusts the setting only from a member of
-- gateway_proxy, as auth.check_session does: a role that set it by hand
-- gets no rows written in its name.
CREATE FUNCTION audit.proxy_identity_changed() RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_identity jsonb;
  v_change text := TG_OP || ' ' || TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME;
  v_log_id bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles r
                  WHERE r.rolname = 'gateway_proxy' AND pg_has_role(session_user, r.oid, 'MEMBER')) THEN
    RETURN NULL;
  END IF;
  v_identity := current_setting('auth.proxy_identity')::jsonb;
  v_log_id := nullif(current_setting('auth.proxy_audit_id', true), '')::bigint;
  IF v_log_id IS NOT NULL THEN
    UPDATE audit.logs l SET details = jsonb_set(l.details, '{changes}', l.details->'changes' || to_jsonb(v_change))
     WHERE l.id = v_log_id AND NOT l.details->'changes' ? v_change;
    RETURN NULL;
  END IF;
  INSERT INTO audit.logs (level, source, message, account_id, client_ip, request_id, details)
  VALUES ('INFO', 'proxy', 'changed by a proxy-asserted identity', (v_identity->>'account_id')::bigint,
          (v_identity->>'ip')::inet, left(v_identity->>'request_id', 128),
          jsonb_build_object('identity', 'proxy', 'proxy_user', v_identity->>'proxy_user', 'by', session_user,
                             'changes', jsonb_build_array(v_change)))
  RETURNING id INTO v_log_id;
  PERFORM set_config('auth.proxy_audit_id', v_log_id::text, true);
  RETURN NULL;
END
$$;

-- Every table an api function changes for a user (not the audit log itself,
-- not the login throttle's counters, whose failures auth.verify_password
-- logs, not the owner's settings). The WHEN clause costs a token request
-- one setting lookup per statement, and no function call.
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON auth.accounts
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON auth.account_sessions
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON publishing.posts
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON publishing.activities
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON publishing.likes
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON publishing.reposts
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON tracking.goals
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON tracking.goal_entries
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON tracking.trackers
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON tracking.logs
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();
CREATE TRIGGER proxy_identity_audit AFTER INSERT OR UPDATE OR DELETE ON tracking.preferences
  FOR EACH STATEMENT WHEN (current_setting('auth.proxy_identity', true) <> '')
  EXECUTE FUNCTION audit.proxy_identity_changed();

---- create above / drop below ----

DROP TRIGGER proxy_identity_audit ON tracking.preferences;
DROP TRIGGER proxy_identity_audit ON tracking.logs;
DROP TRIGGER proxy_identity_audit ON tracking.trackers;
DROP TRIGGER proxy_identity_audit ON tracking.goal_entries;
DROP TRIGGER proxy_identity_audit ON tracking.goals;
DROP TRIGGER proxy_identity_audit ON publishing.reposts;
DROP TRIGGER proxy_identity_audit ON publishing.likes;
DROP TRIGGER proxy_identity_audit ON publishing.activities;
DROP TRIGGER proxy_identity_audit ON publishing.posts;
DROP TRIGGER proxy_identity_audit ON auth.account_sessions;
DROP TRIGGER proxy_identity_audit ON auth.accounts;
DROP FUNCTION audit.proxy_identity_changed();
-- The code package's constructor request.context() still names the item
-- until the package of this older version is installed.
ALTER TYPE request.context DROP ATTRIBUTE proxy_user;
