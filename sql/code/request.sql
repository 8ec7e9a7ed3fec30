-- ============================================================================
-- request: the caller's context (the type: sql/migrations/001_foundation.sql)
-- ============================================================================
-- Every api function takes the request's context as its first argument,
-- `ctx request.context`, and reads what it needs from it: ctx.token,
-- ctx.browser, ctx.ip, ctx.request_id, ctx.proxy_user (the user name a
-- trusted proxy asserts; auth.check_session decides whether to believe it),
-- ctx.trace_id (the W3C trace id of the request's traceparent: the audit
-- rows and the slow-call log lines name it). The gateway passes it as an anonymous
-- ROW($1, $2, …) in attribute order, so it needs no privilege on this schema.
--
-- A DBA calls any api function by hand with the constructor below:
--   SELECT api.current_session(request.context(token => '…', browser => 'curl/8.5.0'));

-- One release after a context item is added (migration 010 added
-- proxy_user, 019 trace_id): the constructor of the package before it, with
-- one parameter fewer. Left in place beside the new one, a call such as
-- request.context(token => …, browser => …) would match both ("is not
-- unique"), and the install of this package would fail on every database
-- that had the old one. auth.check_session_token's body is bound to it, so
-- it goes first (it is created again below, in auth.sql); only then, so
-- that every later install keeps its identity.
DO $$
DECLARE
  v_old regprocedure;
BEGIN
  FOR v_old IN SELECT p.oid::regprocedure FROM pg_proc p
                WHERE p.pronamespace = 'request'::regnamespace AND p.proname = 'context'
                  AND p.pronargs <> (SELECT count(*) FROM pg_attribute a
                                      WHERE a.attrelid = 'request.context'::regclass AND a.attnum > 0 AND NOT a.attisdropped) LOOP
    DROP FUNCTION IF EXISTS auth.check_session_token(text, text);
    EXECUTE format('DROP FUNCTION %s', v_old);
  END LOOP;
END
$$;

-- The constructor, for psql and pgTAP: every item is optional, so a call
-- names only what it needs and survives the next added item.
CREATE OR REPLACE FUNCTION request.context(token text DEFAULT NULL, browser text DEFAULT NULL, ip inet DEFAULT NULL,
                                           request_id text DEFAULT NULL, proxy_user text DEFAULT NULL,
                                           trace_id text DEFAULT NULL)
RETURNS request.context
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ROW(token, browser, ip, request_id, proxy_user, trace_id)::request.context;
