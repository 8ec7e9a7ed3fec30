-- ============================================================================
-- request: the caller's context (the type: sql/migrations/001_foundation.sql)
-- ============================================================================
-- Every api function takes the request's context as its first argument,
-- `ctx request.context`, and reads what it needs from it: ctx.token,
-- ctx.browser, ctx.ip, ctx.request_id, ctx.proxy_user (the user name a
-- trusted proxy asserts; auth.check_session decides whether to believe it). The gateway passes it as an anonymous
-- ROW($1, $2, …) in attribute order, so it needs no privilege on this schema.
--
-- A DBA calls any api function by hand with the constructor below:
--   SELECT api.current_session(request.context(token => '…', browser => 'curl/8.5.0'));

-- One release (migration 010 added proxy_user): the four-item constructor
-- of the package before it. Left in place beside the new one, a call such as
-- request.context(token => …, browser => …) would match both ("is not
-- unique"), and the install of this package would fail on every database
-- that had the old one. auth.check_session_token's body was bound to it, so
-- it goes first (it is created again below, in auth.sql); only then, so
-- that every later install keeps its identity.
DO $$
BEGIN
  IF to_regprocedure('request.context(text, text, inet, text)') IS NOT NULL THEN
    DROP FUNCTION IF EXISTS auth.check_session_token(text, text);
    DROP FUNCTION request.context(text, text, inet, text);
  END IF;
END
$$;

-- The constructor, for psql and pgTAP: every item is optional, so a call
-- names only what it needs and survives the next added item.
CREATE OR REPLACE FUNCTION request.context(token text DEFAULT NULL, browser text DEFAULT NULL, ip inet DEFAULT NULL,
                                           request_id text DEFAULT NULL, proxy_user text DEFAULT NULL)
RETURNS request.context
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN ROW(token, browser, ip, request_id, proxy_user)::request.context;
