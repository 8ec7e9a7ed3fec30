-- ============================================================================
-- response: how an api function reports an error or a status
-- ============================================================================
-- Two ways to fail, both ending in the error body of API.md
-- {"code", "message", "details", "hint"}:
--   * response.raise(): raises SQLSTATE 'PT<status>' (PostgREST's convention);
--     the transaction rolls back. The usual way.
--   * response.fail(): returns the error body with the status as one more
--     member, "$status", so the gateway answers with that status while the
--     transaction COMMITS. For failures that must leave a trace: a session
--     dropped as EXPIRED or BROWSER, a failed login counted for throttling.
-- The gateway maps PT<status> (and standard SQLSTATEs) to HTTP in one table
-- (gateway/errors.go).

-- RFC 3339 in UTC, whatever the session's TimeZone. (An SQL-standard body is
-- bound when created, so it needs no search_path, and stays inlinable.)
CREATE OR REPLACE FUNCTION response.ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"');

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

-- Fail without rolling back: the error body for the api function to return,
-- with the status in it as "$status". The status is part of the function's
-- own result, so the gateway reads it with the answer, in the one plain
-- `SELECT f(...)` it sends: no second value of the transaction (a setting
-- read after the call) is needed, and none can be read too early. No success
-- body has a member whose name starts with "$": the api functions build
-- theirs from SQL names. The gateway drops "$status" from what it sends.
CREATE OR REPLACE FUNCTION response.fail(status integer, code text, message text, details jsonb DEFAULT NULL, hint text DEFAULT NULL)
RETURNS json
LANGUAGE plpgsql IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF status NOT BETWEEN 400 AND 599 THEN
    RAISE EXCEPTION 'response.fail: status % is not an error status', status;
  END IF;
  RETURN json_build_object('$status', status, 'code', code, 'message', message, 'details', details, 'hint', hint);
END
$$;

-- ----------------------------------------------------------------------------
-- Keyset pagination
-- ----------------------------------------------------------------------------
-- Lists ordered newest first by (a timestamp, a unique key) page with an
-- opaque cursor, the "next" of the previous page, never with OFFSET: the
-- next page is `WHERE (t, key) < (cursor's t, cursor's key)`, which an index
-- on (t DESC, key DESC) serves however deep the page.

-- The cursor after a row: base64url of "<RFC 3339 UTC timestamp>|<key>"
-- (text both ways, so the timestamp comes back to the microsecond).
CREATE OR REPLACE FUNCTION response.cursor(at timestamptz, key text) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
RETURN rtrim(translate(encode(convert_to(response.ts(at) || '|' || key, 'UTF8'), 'base64'), E'+/\n', '-_'), '=');

-- The timestamp and key of a cursor; NULL and NULL for a NULL cursor. A
-- cursor this project did not make is a 400 BAD_REQUEST naming `param`.
CREATE OR REPLACE FUNCTION response.uncursor(cursor text, param text DEFAULT 'before',
                                             OUT at timestamptz, OUT key text)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_plain text;
BEGIN
  IF cursor IS NULL THEN
    RETURN;
  END IF;
  BEGIN
    v_plain := convert_from(decode(rpad(translate(cursor, '-_', '+/'), (length(cursor) + 3) / 4 * 4, '='), 'base64'),
                            'UTF8');
    at := split_part(v_plain, '|', 1)::timestamptz;
    key := nullif(substr(v_plain, strpos(v_plain, '|') + 1), '');
  EXCEPTION WHEN OTHERS THEN
    key := NULL;
  END;
  IF key IS NULL OR strpos(v_plain, '|') = 0 OR length(cursor) > 200 THEN
    PERFORM response.raise(400, 'BAD_REQUEST', 'not a cursor from this route',
                           jsonb_build_object(param, 'is not a cursor from this route'));
  END IF;
END
$$;

-- uncursor for lists keyed by a bigint id (posts, goal entries, tracker
-- logs): the id must be a positive integer, else the same 400. NULL and NULL
-- for a NULL cursor.
CREATE OR REPLACE FUNCTION response.uncursor_id(cursor text, param text DEFAULT 'before',
                                                OUT at timestamptz, OUT id bigint)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  v_key text;
BEGIN
  SELECT c.at, c.key INTO at, v_key FROM response.uncursor(cursor, param) c;
  IF v_key IS NULL THEN
    RETURN;
  END IF;
  IF v_key !~ '^[1-9][0-9]{0,17}$' THEN
    PERFORM response.raise(400, 'BAD_REQUEST', 'not a cursor from this route',
                           jsonb_build_object(param, 'is not a cursor from this route'));
  END IF;
  id := v_key::bigint;
END
$$;

-- The page size of a listing (?limit=): 1–100, default 20; 422 otherwise.
CREATE OR REPLACE FUNCTION response.page_limit(row_limit bigint) RETURNS integer
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
  IF row_limit NOT BETWEEN 1 AND 100 THEN
    PERFORM response.raise(422, 'VALIDATION', 'some parameters are invalid', '{"limit": "must be between 1 and 100"}');
  END IF;
  RETURN coalesce(row_limit, 20)::integer;
END
$$;
