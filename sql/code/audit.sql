-- ============================================================================
-- audit: writing the log (its tables: sql/migrations/003_audit.sql)
-- ============================================================================

-- Severity order of the levels, for "this level and above" filters.
CREATE OR REPLACE FUNCTION audit.level_rank(level text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN array_position(ARRAY['DEBUG', 'INFO', 'WARN', 'ERROR'], level);

-- Appends one row to the log, in the caller's transaction. The request's
-- client IP, id and trace id come from ctx (NULL outside a request:
-- maintenance, a DBA's call). An overlong request id is cut, not refused,
-- and a trace id of another form is left out: logging must not fail the
-- change it records. In a request identified by a trusted proxy
-- (auth.check_session set auth.proxy_identity), details get
-- "identity": "proxy", so such a row says where the identity came from.
CREATE OR REPLACE FUNCTION audit.write(level text, source text, message text, account_id bigint DEFAULT NULL,
                                       details jsonb DEFAULT '{}', ctx request.context DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE
BEGIN ATOMIC
  INSERT INTO audit.logs (level, source, message, account_id, client_ip, request_id, trace_id, details)
  VALUES (level, source, message, account_id, (ctx).ip, left((ctx).request_id, 128),
          CASE WHEN (ctx).trace_id ~ '^[0-9a-f]{32}$' THEN (ctx).trace_id END,
          coalesce(details, '{}')
          || CASE WHEN current_setting('auth.proxy_identity', true) <> '' THEN '{"identity": "proxy"}'::jsonb
                  ELSE '{}'::jsonb END);
END;
