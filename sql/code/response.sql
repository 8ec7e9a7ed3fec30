-- ============================================================================
-- response: how an api function reports an error or a status
-- ============================================================================
-- Two ways to fail, both ending in the error body of API.md
-- {"code", "message", "details", "hint"}:
--   * response.raise(): raises SQLSTATE 'PT<status>' (PostgREST's convention);
--     the transaction rolls back. The usual way.
--   * response.fail(): returns the error body and sets the transaction-local
--     setting response.status, so the gateway answers with that status while
--     the transaction COMMITS. For failures that must leave a trace: a session
--     dropped as EXPIRED or BROWSER, a failed login counted for throttling.
-- The gateway maps PT<status> (and standard SQLSTATEs) to HTTP in one table
-- (gateway/errors.go).

-- RFC 3339 in UTC, whatever the session's TimeZone. (SQL-standard bodies are
-- bound when created, so these two need no search_path, and stay inlinable.)
CREATE OR REPLACE FUNCTION response.ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

-- The error body of API.md.
CREATE OR REPLACE FUNCTION response.error_body(code text, message text, details jsonb DEFAULT NULL, hint text DEFAULT NULL)
RETURNS json
LANGUAGE sql IMMUTABLE PARALLEL SAFE
RETURN json_build_object('code', code, 'message', message, 'details', details, 'hint', hint);

-- Raise an error that the gateway answers with `status` and body {code, message, details, hint}.
-- The client code and details travel as JSON in DETAIL; MESSAGE stays human.
CREATE OR REPLACE FUNCTION response.raise(status integer, code text, message text, details jsonb DEFAULT NULL, hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF status NOT BETWEEN 400 AND 599 THEN
    RAISE EXCEPTION 'response.raise: status % is not an error status', status;
  END IF;
  IF hint IS NULL THEN
    RAISE EXCEPTION USING ERRCODE = 'PT' || status, MESSAGE = message,
      DETAIL = json_build_object('code', code, 'details', details)::text;
  END IF;
  RAISE EXCEPTION USING ERRCODE = 'PT' || status, MESSAGE = message, HINT = hint,
    DETAIL = json_build_object('code', code, 'details', details)::text;
END
$$;

-- Fail without rolling back: sets response.status for this transaction and
-- returns the error body for the api function to return.
CREATE OR REPLACE FUNCTION response.fail(status integer, code text, message text, details jsonb DEFAULT NULL, hint text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  PERFORM set_config('response.status', status::text, true);
  RETURN response.error_body(code, message, details, hint);
END
$$;
